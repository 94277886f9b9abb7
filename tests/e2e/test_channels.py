"""Subscriptions end to end: mutate → result + change events on doc and collection channels,
exactly-once retries, resume with a cursor, recovered: false, rooms, authorisation."""

from __future__ import annotations

import asyncio

import nats
import pytest

from syncmesh_kit.testing import GatewayClient
from syncmesh_schema import subjects

from .conftest import ids, mutation, token

pytestmark = pytest.mark.e2e


async def test_mutate_result_and_events_on_doc_and_collection(stack):
    col, doc, cli = ids()
    writer, _ = await GatewayClient.hello(stack.ws_url, token("alice"), cli)
    reader, _ = await GatewayClient.hello(stack.ws_url, token("bob"), cli + "b")
    on_doc = await reader.request({"type": "subscribe", "channel": f"doc:{col}/{doc}"})
    on_col = await reader.request({"type": "subscribe", "channel": f"collection:{col}"})
    assert on_doc["type"] == on_col["type"] == "subscribed"
    assert on_doc["recovered"] is False
    result = await writer.request(
        {"type": "mutate", "mutation": mutation(cli, 1, col, doc, 0, "create", {"t": "milk"})}
    )
    assert (result["type"], result["status"], result["version"]) == ("result", "applied", 1)
    assert result["mutation_id"] == 1
    for channel in (f"doc:{col}/{doc}", f"collection:{col}"):
        event = await reader.next(type="event", channel=channel)
        assert event["kind"] == "change"
        assert isinstance(event["cursor"], str)
        assert isinstance(event["ts"], int)
        data = event["data"]
        assert (data["collection"], data["doc_id"], data["version"]) == (col, doc, 1)
        assert (data["data"], data["deleted"]) == ({"t": "milk"}, False)
        assert data["mutation"] == {
            "client_id": cli,
            "mutation_id": 1,
            "user_id": "alice",
            "kind": "create",
        }
    deleted = await writer.request(
        {"type": "mutate", "mutation": mutation(cli, 2, col, doc, 1, "delete", {})}
    )
    assert deleted["version"] == 2
    gone = await reader.next(type="event", channel=f"doc:{col}/{doc}")
    assert (gone["data"]["data"], gone["data"]["deleted"]) == (None, True)
    await writer.close()
    await reader.close()


async def test_retries_are_exactly_once_over_ws_and_http(stack):
    import httpx

    col, doc, cli = ids()
    m1 = mutation(cli, 1, col, doc, 0, "create", {"n": 1})
    client, _ = await GatewayClient.hello(stack.ws_url, token("alice"), cli)
    first = await client.request({"type": "mutate", "mutation": m1})
    again = await client.request({"type": "mutate", "mutation": m1})
    assert first["status"] == "applied"
    assert (again["status"], again["version"], again["outcome"]) == ("duplicate", 1, "applied")
    ahead = await client.request(
        {"type": "mutate", "mutation": mutation(cli, 5, col, doc, 1, "set", {"n": 5})}
    )
    assert (ahead["type"], ahead["code"], ahead["expected"]) == ("error", "out_of_order", 2)
    other = await client.request(
        {"type": "mutate", "mutation": mutation(cli + "z", 1, col, doc, 1, "set", {})}
    )
    assert other["code"] == "bad_request"
    await client.close()
    # Reconnect: welcome says what was processed.
    client, welcome = await GatewayClient.hello(stack.ws_url, token("alice"), cli)
    assert welcome["last_mutation_id"] == 1
    await client.close()
    headers = {"Authorization": f"Bearer {token('alice')}"}
    async with httpx.AsyncClient(base_url=stack.url, headers=headers, timeout=20) as http:
        resp = await http.post("/v1/commands", json={"type": "mutate", "id": "h1", "mutation": m1})
        assert resp.status_code == 200
        assert (resp.json()["status"], resp.json()["version"], resp.json()["re"]) == (
            "duplicate",
            1,
            "h1",
        )
        batch = [
            m1,
            mutation(cli, 2, col, doc, 1, "patch", {"m": 2}),
            mutation(cli, 2, col, doc, 1, "patch", {"m": 2}),
            mutation(cli, 4, col, doc, 2, "patch", {"x": 4}),
            mutation(cli, 3, col, doc, 2, "patch", {"x": 3}),
            {"client_id": cli},
        ]
        resp = await http.post("/v1/mutations", json={"mutations": batch})
        assert resp.status_code == 200
        results = resp.json()["results"]
        assert [r.get("status") or r["code"] for r in results] == [
            "duplicate",
            "applied",
            "duplicate",
            "out_of_order",
            "out_of_order",
            "bad_request",
        ]
        assert results[1]["version"] == results[2]["version"] == 2
        assert results[3]["expected"] == 3
        foreign = await http.post(
            "/v1/mutations",
            json={"mutations": [mutation(cli, 3, col, doc, 2, "set", {})]},
            headers={"Authorization": f"Bearer {token('mallory')}"},
        )
        assert foreign.json()["results"][0]["code"] == "forbidden"


async def test_resume_with_a_cursor_replays_exactly_the_missed_events(stack):
    col, doc, cli = ids()
    channel = f"doc:{col}/{doc}"
    writer, _ = await GatewayClient.hello(stack.ws_url, token("alice"), cli)
    reader, _ = await GatewayClient.hello(stack.ws_url, token("bob"), cli + "r")
    await reader.request({"type": "subscribe", "channel": channel})
    await writer.request(
        {"type": "mutate", "mutation": mutation(cli, 1, col, doc, 0, "create", {"v": 1})}
    )
    seen = await reader.next(type="event", channel=channel)
    await reader.close()
    for i in range(2, 6):
        await writer.request(
            {"type": "mutate", "mutation": mutation(cli, i, col, doc, i - 1, "set", {"v": i})}
        )
    reader, _ = await GatewayClient.hello(stack.ws_url, token("bob"), cli + "r")
    sub = await reader.request({"type": "subscribe", "channel": channel, "cursor": seen["cursor"]})
    assert sub["recovered"] is True
    missed = await reader.events(channel, 4)
    assert [e["data"]["version"] for e in missed] == [2, 3, 4, 5]
    await writer.request(
        {"type": "mutate", "mutation": mutation(cli, 6, col, doc, 5, "set", {"v": 6})}
    )
    live = await reader.next(type="event", channel=channel)
    assert live["data"]["version"] == 6
    await asyncio.sleep(0.2)
    assert not [f for f in reader.backlog if f.get("type") == "event"]  # no duplicates
    # Resume from the last cursor: nothing missed, nothing repeated.
    again, _ = await GatewayClient.hello(stack.ws_url, token("bob"), cli + "s")
    sub = await again.request({"type": "subscribe", "channel": channel, "cursor": live["cursor"]})
    assert sub["recovered"] is True
    await asyncio.sleep(0.2)
    assert not again.backlog
    # Garbage and foreign-epoch cursors: recovered false, with the snapshot when asked.
    for bad in ("nonsense", "1-1"):
        sub = await again.request(
            {"type": "subscribe", "channel": channel, "cursor": bad, "snapshot": True}
        )
        assert sub["recovered"] is False
        assert (sub["snapshot"]["version"], sub["snapshot"]["data"]) == (6, {"v": 6})
    for c in (writer, reader, again):
        await c.close()


async def test_recovered_false_when_history_was_trimmed(stack):
    """The docs bucket keeps 64 versions per document: a cursor older than that cannot
    be resumed without a gap, and must say so."""
    col, doc, cli = ids()
    channel = f"doc:{col}/{doc}"
    client, _ = await GatewayClient.hello(stack.ws_url, token("alice"), cli)
    await client.request({"type": "subscribe", "channel": channel})
    await client.request(
        {"type": "mutate", "mutation": mutation(cli, 1, col, doc, 0, "create", {"v": 1})}
    )
    first = await client.next(type="event", channel=channel)
    await client.request({"type": "unsubscribe", "channel": channel})
    for i in range(2, 70):
        await client.request(
            {"type": "mutate", "mutation": mutation(cli, i, col, doc, i - 1, "set", {"v": i})}
        )
    sub = await client.request(
        {"type": "subscribe", "channel": channel, "cursor": first["cursor"], "snapshot": True}
    )
    assert sub["recovered"] is False
    assert sub["snapshot"]["version"] == 69
    await asyncio.sleep(0.2)
    assert not [f for f in client.backlog if f.get("type") == "event"]
    await client.close()


async def test_room_publish_fans_out_and_resumes(stack):
    room = ids()[0]
    channel = f"room:{room}"
    subs = []
    for i in range(3):
        c, _ = await GatewayClient.hello(stack.ws_url, token(f"u{i}"), f"{room}c{i}")
        assert (await c.request({"type": "subscribe", "channel": channel}))["type"] == "subscribed"
        subs.append(c)
    ok = await subs[0].request({"type": "publish", "channel": channel, "data": {"hi": 1}})
    assert ok["type"] == "ok"
    assert isinstance(ok["cursor"], str)
    for c in subs:
        event = await c.next(type="event", channel=channel)
        assert event["kind"] == "message"
        assert event["data"] == {"user_id": "u0", "data": {"hi": 1}}
        assert event["cursor"] == ok["cursor"]
    big = await subs[1].request({"type": "publish", "channel": channel, "data": "x" * 40_000})
    assert big["code"] == "too_large"
    not_room = await subs[1].request({"type": "publish", "channel": "doc:a/b", "data": 1})
    assert not_room["code"] == "bad_request"
    await subs[2].close()
    for n in range(3):
        await subs[0].request({"type": "publish", "channel": channel, "data": n})
    back, _ = await GatewayClient.hello(stack.ws_url, token("u2"), f"{room}c2")
    sub = await back.request({"type": "subscribe", "channel": channel, "cursor": ok["cursor"]})
    assert sub["recovered"] is True
    assert [e["data"]["data"] for e in await back.events(channel, 3)] == [0, 1, 2]
    for c in [*subs[:2], back]:
        await c.close()


async def test_channels_are_authorised(stack):
    col, doc, cli = ids()
    limited = token("carol", channels=[f"doc:{col}/*", "room:lobby"], write=["nothing"])
    client, _ = await GatewayClient.hello(stack.ws_url, limited, cli)
    ok = await client.request({"type": "subscribe", "channel": f"doc:{col}/{doc}"})
    assert ok["type"] == "subscribed"
    for channel in (f"collection:{col}", "room:other", "doc:other/x"):
        refused = await client.request({"type": "subscribe", "channel": channel})
        assert (refused["type"], refused["code"]) == ("error", "forbidden")
    assert (await client.request({"type": "subscribe", "channel": "presence:lobby"}))[
        "type"
    ] == "subscribed"
    assert (await client.request({"type": "subscribe", "channel": "inbox"}))["type"] == "subscribed"
    refused = await client.request({"type": "publish", "channel": "room:other", "data": 1})
    assert refused["code"] == "forbidden"
    # Outside the write claim: accepted, consumed as rejected.
    rejected = await client.request(
        {"type": "mutate", "mutation": mutation(cli, 1, col, doc, 0, "create", {})}
    )
    assert rejected["status"] == "rejected"
    # A refresh that narrows the channels drops the subscription.
    narrower = token("carol", channels=["room:lobby"])
    await client.request({"type": "refresh", "token": narrower})
    note = await client.next(type="error", code="forbidden")
    assert f"doc:{col}/{doc}" in note["message"]
    await client.close()


async def test_inbox_and_presence_deliver_from_their_streams(stack):
    """Their producers are later services; the gateway reads the streams generically."""
    from syncmesh_schema.events import PresenceEventData
    from syncmesh_schema.notification import Notification
    from syncmesh_schema.presence import PresenceEvent

    user = ids()[2]
    nc = await nats.connect(stack.nats_url)
    js = nc.jetstream()
    note = Notification(id="n1", kind="k", title="hello", created_at=1, user_id=user)
    await js.publish(subjects.inbox(user), note.to_json_bytes())
    client, _ = await GatewayClient.hello(stack.ws_url, token(user), user + "c")
    await client.request({"type": "subscribe", "channel": "inbox"})
    stored = await client.next(type="event", channel="inbox")
    assert (stored["kind"], stored["data"]["id"], stored["data"]["title"]) == (
        "notification",
        "n1",
        "hello",
    )
    await client.request({"type": "subscribe", "channel": "presence:lobby2"})
    member = PresenceEventData(user_id="zed", status="online", connections=1)
    event = PresenceEvent(kind="join", room="lobby2", member=member, ts=5)
    await js.publish(subjects.presence("lobby2"), event.to_json_bytes())
    got = await client.next(type="event", channel="presence:lobby2")
    assert (got["kind"], got["data"]["user_id"], got["ts"]) == ("join", "zed", 5)
    await client.close()
    await nc.close()
