"""Every frame of PROTOCOL.md §3 parses into the right model; bad frames get clear errors."""

from __future__ import annotations

import json

import pytest

from syncmesh_schema import client as c
from syncmesh_schema.client import CLIENT_FRAME, SERVER_FRAME, FrameError, parse_client_frame

MUTATION = {
    "client_id": "c-1",
    "mutation_id": 1,
    "collection": "todos",
    "doc_id": "t1",
    "base_version": 0,
    "kind": "create",
    "payload": {"title": "milk"},
}

CLIENT_EXAMPLES = [
    ({"type": "hello", "id": "1", "token": "jwt", "client_id": "c-1"}, c.Hello),
    ({"type": "hello", "id": "1", "token": "jwt", "client_id": "c-1", "batch": True}, c.Hello),
    ({"type": "refresh", "id": "2", "token": "jwt2"}, c.Refresh),
    ({"type": "ping", "id": "3"}, c.Ping),
    ({"type": "subscribe", "id": "4", "channel": "doc:todos/t1"}, c.Subscribe),
    (
        {
            "type": "subscribe",
            "id": "4",
            "channel": "collection:todos",
            "cursor": "x",
            "snapshot": True,
        },
        c.Subscribe,
    ),
    ({"type": "subscribe", "id": "4", "channel": "room:lobby"}, c.Subscribe),
    ({"type": "subscribe", "id": "4", "channel": "presence:lobby"}, c.Subscribe),
    ({"type": "subscribe", "id": "4", "channel": "inbox"}, c.Subscribe),
    ({"type": "unsubscribe", "id": "5", "channel": "room:lobby"}, c.Unsubscribe),
    ({"type": "mutate", "id": "6", "mutation": MUTATION}, c.Mutate),
    ({"type": "publish", "id": "7", "channel": "room:lobby", "data": {"text": "hi"}}, c.Publish),
    ({"type": "presence", "id": "8", "room": "lobby", "status": "away"}, c.PresenceSet),
    (
        {"type": "presence", "id": "8", "room": "lobby", "status": "online", "meta": {"cursor": 3}},
        c.PresenceSet,
    ),
    ({"type": "presence_state", "id": "9", "room": "lobby"}, c.PresenceState),
    (
        {"type": "conflict_resolve", "id": "10", "conflict_id": "k1", "choice": "mine"},
        c.ConflictResolve,
    ),
    (
        {
            "type": "conflict_resolve",
            "id": "10",
            "conflict_id": "k1",
            "choice": "custom",
            "data": {"a": 1},
        },
        c.ConflictResolve,
    ),
    ({"type": "notifications_read", "id": "11", "ids": []}, c.NotificationsRead),
    ({"type": "notifications_read", "id": "11", "all": True}, c.NotificationsRead),
]


@pytest.mark.parametrize(("frame", "model"), CLIENT_EXAMPLES)
def test_client_frames_parse_into_their_model(frame, model):
    parsed = parse_client_frame(json.dumps(frame))
    assert type(parsed) is model
    assert parsed.id == frame["id"]


SERVER_EXAMPLES = [
    (
        {
            "type": "welcome",
            "re": "1",
            "session_id": "s",
            "user_id": "u",
            "client_id": "c",
            "server_time": 1,
            "heartbeat_ms": 25000,
            "max_frame_bytes": 65536,
            "last_mutation_id": 0,
        },
        c.Welcome,
    ),
    ({"type": "ok", "re": "2", "exp": 1700000000}, c.Ok),
    ({"type": "ok", "re": "7", "cursor": "abc"}, c.Ok),
    ({"type": "ok", "re": "11", "unread": 3}, c.Ok),
    ({"type": "pong", "re": "3", "server_time": 5}, c.Pong),
    (
        {"type": "subscribed", "re": "4", "channel": "inbox", "cursor": "0", "recovered": True},
        c.Subscribed,
    ),
    ({"type": "unsubscribed", "re": "5", "channel": "inbox"}, c.Unsubscribed),
    ({"type": "result", "re": "6", "mutation_id": 1, "status": "applied", "version": 1}, c.Result),
    (
        {
            "type": "result",
            "re": "6",
            "mutation_id": 2,
            "status": "manual",
            "version": 3,
            "conflict": {"conflict_id": "k", "base": {}, "mine": {"a": 1}, "theirs": {"a": 2}},
        },
        c.Result,
    ),
    (
        {
            "type": "presence",
            "re": "9",
            "room": "lobby",
            "members": [
                {"user_id": "u", "status": "online", "meta": {}, "connections": 2, "last_seen": 1}
            ],
        },
        c.Presence,
    ),
    ({"type": "error", "re": "6", "code": "out_of_order", "message": "m", "expected": 4}, c.Error),
    ({"type": "error", "code": "bad_request", "message": "not JSON"}, c.Error),
    (
        {
            "type": "event",
            "channel": "room:r",
            "cursor": "9",
            "kind": "message",
            "data": {},
            "ts": 1,
        },
        c.Event,
    ),
    ({"type": "resync", "channel": "doc:a/b", "reason": "history trimmed"}, c.Resync),
]


@pytest.mark.parametrize(("frame", "model"), SERVER_EXAMPLES)
def test_server_frames_parse_and_round_trip(frame, model):
    parsed = SERVER_FRAME.validate_python(frame)
    assert type(parsed) is model
    assert json.loads(parsed.to_json_bytes()) == frame


def test_event_keeps_null_data_and_drops_missing_re():
    event = c.Event(channel="doc:a/b", cursor="3", kind="change", data=None, ts=1)
    assert json.loads(event.to_json_bytes()) == {
        "type": "event",
        "channel": "doc:a/b",
        "cursor": "3",
        "kind": "change",
        "data": None,
        "ts": 1,
    }


@pytest.mark.parametrize(
    ("raw", "needle"),
    [
        ('{"type":"teleport","id":"1"}', "unknown frame type 'teleport'"),
        ("not json", "not valid JSON"),
        ("[1,2]", "JSON object"),
        ('{"id":"1"}', "JSON object with a string 'type'"),
        ('{"type":"subscribe","id":"1","channel":"doc:to.dos/t1"}', "collection must be 1-128"),
        ('{"type":"subscribe","id":"1","channel":"room:a b"}', "room must be 1-128"),
        ('{"type":"subscribe","id":"1","channel":"room:>"}', "room must be 1-128"),
        ('{"type":"subscribe","id":"1","channel":"doc:todos"}', "doc:<collection>/<doc_id>"),
        ('{"type":"subscribe","id":"1","channel":"chat:x"}', "unknown channel type"),
        ('{"type":"subscribe","id":"1","channel":"room:' + "x" * 129 + '"}', "room must be 1-128"),
        ('{"type":"hello","id":"1","token":"t","client_id":"c*1"}', "client_id must be 1-128"),
        ('{"type":"publish","id":"1","channel":"doc:a/b","data":1}', "only room:"),
        ('{"type":"presence","id":"1","room":"r","status":"sleeping"}', "status"),
        ('{"type":"ping","id":"1","extra":1}', "extra"),
        ('{"type":"conflict_resolve","id":"1","conflict_id":"k","choice":"custom"}', "needs data"),
        ('{"type":"notifications_read","id":"1"}', "ids"),
        ('{"type":"hello","id":"1","token":"t","client_id":"c","batch":"yes"}', "batch"),
    ],
)
def test_bad_frames_get_a_clear_bad_request(raw, needle):
    with pytest.raises(FrameError) as info:
        parse_client_frame(raw)
    assert info.value.code == "bad_request"
    assert needle in info.value.message


def test_error_keeps_the_frame_id_when_readable():
    with pytest.raises(FrameError) as info:
        parse_client_frame('{"type":"subscribe","id":"abc","channel":"nope"}')
    assert info.value.frame_id == "abc"


def test_presence_meta_is_bounded():
    frame = {
        "type": "presence",
        "id": "1",
        "room": "r",
        "status": "online",
        "meta": {"x": "y" * 5000},
    }
    with pytest.raises(FrameError, match="4096"):
        parse_client_frame(json.dumps(frame))


def test_client_frame_adapter_is_discriminated():
    # One adapter, built once, dispatching on "type".
    assert CLIENT_FRAME.json_schema()["discriminator"]["propertyName"] == "type"
