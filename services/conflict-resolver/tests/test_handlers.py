"""The resolver's subscribers over a real nats-server: ``sm.resolve`` for every strategy,
malformed requests, manual parking (once, with one notification), the resolution log, and
settling parked conflicts on ``sm.conflict.resolve``."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import pytest

from syncmesh_schema import subjects
from syncmesh_schema.conflict import (
    ConflictResolveReply,
    ManualConflict,
    ResolutionRecord,
    ResolveError,
    ResolveReply,
)
from syncmesh_schema.notification import Notification

pytestmark = pytest.mark.integration

EARLY = "000001732290000000:0000"
LATE = "000001732290000500:0000"
BASE = {"title": "a", "done": False, "views": 1}
MINE = {"title": "mine", "done": True, "views": 5}
THEIRS = {"title": "theirs", "done": False, "views": 3}


def new_collection() -> str:
    return f"col{uuid.uuid4().hex[:10]}"


def resolve_request(
    collection: str,
    *,
    base: Any = BASE,
    mine: Any = MINE,
    theirs: Any = THEIRS,
    user_id: str = "alice",
    client_id: str = "alice-phone",
    mutation_id: int = 1,
    mutation: dict[str, Any] | None = None,
    **policy: Any,
) -> dict[str, Any]:
    return {
        "mutation": {
            "client_id": client_id,
            "mutation_id": mutation_id,
            "collection": collection,
            "doc_id": "d1",
            "base_version": 1,
            "kind": "set",
            "payload": mine,
            **(mutation or {}),
        },
        "user_id": user_id,
        "base": base,
        "mine": mine,
        "theirs": theirs,
        "base_version": 1,
        "theirs_version": 2,
        "policy": {"collection": collection, **policy},
        "mine_stamp": f"{LATE}:{client_id}",
        "theirs_stamp": f"{EARLY}:bob-laptop",
    }


async def ask(nc: Any, request: dict[str, Any] | bytes) -> ResolveReply | ResolveError:
    data = request if isinstance(request, bytes) else json.dumps(request).encode()
    msg = await nc.request(subjects.RESOLVE, data, timeout=5)
    body = json.loads(msg.data)
    if body["outcome"] == "error":
        return ResolveError.model_validate(body)
    return ResolveReply.model_validate(body)


async def settle(nc: Any, **request: Any) -> ConflictResolveReply:
    msg = await nc.request(subjects.CONFLICT_RESOLVE, json.dumps(request).encode(), timeout=10)
    return ConflictResolveReply.model_validate_json(msg.data)


async def records(nc: Any, collection: str) -> list[tuple[ResolutionRecord, Any]]:
    js = nc.jetstream()
    sub = await js.subscribe(
        subjects.resolution(collection), stream=subjects.RESOLUTIONS_STREAM, ordered_consumer=True
    )
    out = []
    try:
        while True:
            msg = await sub.next_msg(timeout=0.5)
            out.append((ResolutionRecord.model_validate_json(msg.data), msg.headers))
    except TimeoutError:
        pass
    finally:
        await sub.unsubscribe()
    return out


async def parked(nc: Any, conflict_id: str) -> ManualConflict:
    kv = await nc.jetstream().key_value(subjects.CONFLICTS_BUCKET)
    entry = await kv.get(subjects.conflict_key(conflict_id))
    return ManualConflict.model_validate_json(entry.value)


@pytest.mark.parametrize(
    ("policy", "expected", "sources"),
    [
        (
            {"strategy": "server_wins"},
            {"title": "theirs", "done": True, "views": 3},
            {"title": "theirs", "done": "mine", "views": "theirs"},
        ),
        (
            {"strategy": "client_wins"},
            {"title": "mine", "done": True, "views": 5},
            {"title": "mine", "done": "mine", "views": "mine"},
        ),
        (
            {"strategy": "last_writer_wins"},  # mine's stamp is later
            {"title": "mine", "done": True, "views": 5},
            {"title": "mine", "done": "mine", "views": "mine"},
        ),
        (
            {"strategy": "first_writer_wins"},
            {"title": "theirs", "done": True, "views": 3},
            {"title": "theirs", "done": "mine", "views": "theirs"},
        ),
        (
            {"strategy": "merge", "fallback": "client_wins", "field_rules": {"views": "max"}},
            {"title": "mine", "done": True, "views": 5},
            {"title": "mine", "done": "mine", "views": "max"},
        ),
        (
            {"strategy": "merge", "field_rules": {"views": "min"}},  # fallback server_wins
            {"title": "theirs", "done": True, "views": 3},
            {"title": "theirs", "done": "mine", "views": "min"},
        ),
    ],
)
async def test_each_strategy_answers_and_is_recorded(nc, policy, expected, sources):
    col = new_collection()
    reply = await ask(nc, resolve_request(col, **policy))
    assert isinstance(reply, ResolveReply)
    assert (reply.outcome, reply.strategy, reply.data) == ("resolved", policy["strategy"], expected)
    assert sorted(reply.fields) == ["title", "views"]
    assert reply.sources == sources
    [(record, headers)] = await records(nc, col)
    assert (record.outcome, record.strategy, record.client_id) == (
        "resolved",
        policy["strategy"],
        "alice-phone",
    )
    assert record.sources == sources
    assert headers["Nats-Msg-Id"] == f"resolution:{col}:d1:alice-phone:1:2"


async def test_a_mutation_strategy_overrides_and_losing_entirely_is_rejected(nc):
    col = new_collection()
    request = resolve_request(
        col,
        mine={**BASE, "title": "mine"},
        mutation={"strategy": "server_wins"},
        strategy="client_wins",
    )
    reply = await ask(nc, request)
    assert isinstance(reply, ResolveReply)
    assert (reply.outcome, reply.strategy, reply.fields) == ("rejected", "server_wins", ["title"])


async def test_a_delete_without_a_base_is_a_whole_document_conflict(nc):
    col = new_collection()
    request = resolve_request(
        col,
        base=None,
        mine=None,
        mutation={"kind": "delete", "payload": {}},
        strategy="merge",
        fallback="client_wins",
    )
    reply = await ask(nc, request)
    assert isinstance(reply, ResolveReply)
    assert (reply.outcome, reply.strategy, reply.deleted, reply.data) == (
        "resolved",
        "client_wins",
        True,
        None,
    )
    assert reply.fields == [""]
    [(record, _)] = await records(nc, col)
    assert (record.whole_document, record.requested, record.deleted) == (True, "merge", True)


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"{not json", "not a ResolveRequest"),
        (b"\xff\xfe", "not a ResolveRequest"),
        (b"{}", "mutation"),
        (b"[]", "not a ResolveRequest"),
        ("missing stamp", "needs mine_stamp"),
        ("merge fallback", "fallback"),
        ("text kind", "sync itself"),
        ("bad collection", "collection"),
    ],
)
async def test_malformed_requests_get_an_error_and_change_nothing(nc, payload, message):
    col = new_collection()
    if isinstance(payload, str):
        request = resolve_request(col, strategy="last_writer_wins")
        if payload == "missing stamp":
            request["mine_stamp"] = ""
        elif payload == "merge fallback":
            request.update(
                base=None, policy={"collection": col, "strategy": "merge", "fallback": "merge"}
            )
        elif payload == "text kind":
            request["mutation"].update(kind="text", payload={"field": "title", "ops": ["x"]})
        else:
            request["mutation"]["collection"] = "no.dots"
        payload = json.dumps(request).encode()
    reply = await ask(nc, payload)
    assert isinstance(reply, ResolveError)
    assert reply.error_code == "bad_request"
    assert message in reply.error_message
    assert await records(nc, col) == []
    # ... and the resolver keeps answering.
    ok = await ask(nc, resolve_request(col))
    assert isinstance(ok, ResolveReply)


async def test_manual_parks_one_conflict_and_notifies_once(nc):
    col = new_collection()
    user = f"alice.{uuid.uuid4().hex[:6]}@example.com"  # not a subject token: encoded
    request = resolve_request(
        col, strategy="manual", user_id=user, client_id="cli-m", mutation_id=4
    )
    first = await ask(nc, request)
    again = await ask(nc, request)  # sync retries the same mutation
    assert isinstance(first, ResolveReply)
    assert isinstance(again, ResolveReply)
    assert (first.outcome, first.strategy) == ("manual", "manual")
    assert first.conflict_id is not None
    assert again.conflict_id == first.conflict_id
    assert first.fields == ["title", "views"]

    conflict = await parked(nc, first.conflict_id)
    assert (conflict.user_id, conflict.client_id, conflict.mutation_id) == (user, "cli-m", 4)
    assert (conflict.base, conflict.mine, conflict.theirs) == (BASE, MINE, THEIRS)
    assert (conflict.theirs_version, conflict.resolved_at) == (2, None)
    kv = await nc.jetstream().key_value(subjects.CONFLICTS_BUCKET)
    history = await kv.history(subjects.conflict_key(first.conflict_id))
    assert len(history) == 1  # parked once

    js = nc.jetstream()
    inbox = subjects.inbox(user)
    info = await js.stream_info(subjects.INBOX_STREAM, subjects_filter=inbox)
    assert info.state.subjects == {inbox: 1}
    msg = await js.get_last_msg(subjects.INBOX_STREAM, inbox)
    assert msg.headers["Nats-Msg-Id"] == f"conflict:{first.conflict_id}"
    note = Notification.model_validate_json(msg.data)
    assert (note.kind, note.user_id, note.priority) == ("conflict", user, "high")
    assert note.data["conflict_id"] == first.conflict_id
    assert note.data["fields"] == ["title", "views"]

    assert [r.outcome for r, _ in await records(nc, col)] == ["manual"]  # recorded once too

    other = await ask(nc, {**request, "mutation": {**request["mutation"], "mutation_id": 5}})
    assert isinstance(other, ResolveReply)
    assert other.conflict_id not in (None, first.conflict_id)


async def park(nc: Any, collection: str, user: str = "alice", **changes: Any) -> str:
    client = f"cli-{uuid.uuid4().hex[:8]}"
    reply = await ask(
        nc,
        resolve_request(collection, strategy="manual", user_id=user, client_id=client, **changes),
    )
    assert isinstance(reply, ResolveReply)
    assert reply.conflict_id is not None
    return reply.conflict_id


async def test_settling_with_theirs_writes_nothing_and_only_once(nc):
    col = new_collection()
    cid = await park(nc, col)
    reply = await settle(nc, conflict_id=cid, choice="theirs", user_id="alice")
    assert reply.error_code is None
    assert reply.result is not None
    assert (reply.result.status, reply.result.version, reply.result.data) == ("rejected", 2, THEIRS)
    conflict = await parked(nc, cid)
    assert (conflict.choice, conflict.resolved_at is not None) == ("theirs", True)
    again = await settle(nc, conflict_id=cid, choice="mine", user_id="alice")
    assert again.error_code == "not_found"
    recorded = await records(nc, col)
    assert [(r.outcome, r.choice, r.decided_by) for r, _ in recorded][-1] == (
        "settled",
        "theirs",
        "alice",
    )


@pytest.mark.parametrize(
    ("request_", "code"),
    [
        ({"user_id": "mallory", "choice": "theirs"}, "forbidden"),
        ({"user_id": "alice", "choice": "mine", "write": ["other*"]}, "forbidden"),
        ({"user_id": "alice", "choice": "custom"}, "bad_request"),  # custom needs data
        ({"user_id": "alice", "choice": "maybe"}, "bad_request"),
        ({"user_id": "alice", "choice": "mine", "conflict_id": "nope"}, "not_found"),
        ({"user_id": "alice", "choice": "mine", "conflict_id": "no.such>"}, "not_found"),
    ],
)
async def test_settling_refusals(nc, request_, code):
    col = new_collection()
    cid = await park(nc, col)
    reply = await settle(nc, **{"conflict_id": cid, **request_})
    assert (reply.error_code, reply.result) == (code, None)
    assert reply.error_message
    assert (await parked(nc, cid)).resolved_at is None  # still open


async def test_settling_with_mine_or_custom_issues_one_mutation_through_the_intake(nc, stand_in):
    col = new_collection()
    intake = await stand_in(col)
    cid = await park(nc, col)
    reply = await settle(nc, conflict_id=cid, choice="mine", user_id="alice", write=[col])
    assert reply.error_code is None, reply
    assert reply.result is not None
    assert (reply.result.status, reply.result.version) == ("applied", 101)
    assert (reply.client_id, reply.mutation_id) == (f"cr-{cid}", 1)
    [sent] = intake.seen
    m = sent.mutation
    assert (m.client_id, m.mutation_id, m.kind, m.payload) == (f"cr-{cid}", 1, "set", MINE)
    assert (m.strategy, m.base_version, m.collection, m.doc_id) == ("client_wins", 2, col, "d1")
    assert sent.user_id == "alice"
    assert (await parked(nc, cid)).choice == "mine"

    custom_id = await park(nc, col)
    doc = {"title": "both", "done": True}
    custom = await settle(nc, conflict_id=custom_id, choice="custom", data=doc, user_id="alice")
    assert custom.result is not None
    assert custom.result.status == "applied"
    assert intake.seen[-1].mutation.payload == doc
    settled = [r for r, _ in await records(nc, col) if r.outcome == "settled"]
    assert [(r.choice, r.version, r.kind) for r in settled] == [
        ("mine", 101, "set"),
        ("custom", 102, "set"),
    ]


async def test_a_settle_that_times_out_can_be_retried_and_applies_once(nc, stand_in):
    col = new_collection()
    cid = await park(nc, col)
    # Nobody processes the intake yet: the resolver gives up waiting (settle_timeout_s).
    slow = await settle(nc, conflict_id=cid, choice="mine", user_id="alice")
    assert slow.error_code == "unavailable"
    assert (await parked(nc, cid)).resolved_at is None
    intake = await stand_in(col)
    retry = await settle(nc, conflict_id=cid, choice="mine", user_id="alice")
    assert retry.error_code is None, retry
    assert retry.result is not None
    assert retry.result.version == 101
    assert "applied" in (retry.result.status, retry.result.outcome)
    await asyncio.sleep(0.2)
    # The queued first attempt and the retry both reached the intake; one applied.
    assert len(intake.seen) == 2
    assert intake.applied == {(f"cr-{cid}", 1): 101}
    assert (await parked(nc, cid)).choice == "mine"
