"""SSE (``/v1/sse``) and long-poll (``/v1/poll``) end to end over real sockets: welcome,
change / message events, pings, authorisation before the stream starts, resume of every
channel from one ``Last-Event-ID`` (exactly the missed events, no duplicates), garbage ids
answered with ``resync``, long-poll blocking / timeouts / cursor continuity."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from syncmesh_gateway.app import create_app as create_gateway
from syncmesh_gateway.server import GatewayServer, uvicorn_config
from syncmesh_kit.testing import ServerThread

from .conftest import Stack, gateway_settings, ids, mutation, token, wait_ready

pytestmark = pytest.mark.e2e

PING_S = 0.3


@pytest.fixture(scope="module")
def stack(nats_module, sync_service) -> Iterator[Stack]:
    """The stack with short SSE pings."""
    settings = gateway_settings(nats_module.url, sse_ping_s=PING_S, sse_retry_ms=1500)
    app = create_gateway(settings)
    server = GatewayServer(uvicorn_config(app, settings), app.state.gateway)
    with ServerThread(server) as running:
        wait_ready(running.url)
        yield Stack(nats_module.url, running, settings)


class SseReader:
    """Parses ``text/event-stream``: one dict per block (``event``, ``id``, ``data`` parsed
    as JSON, ``retry``, ``comments``)."""

    def __init__(self, resp: httpx.Response) -> None:
        self.resp = resp
        self._lines: AsyncIterator[str] = resp.aiter_lines()

    async def block(self, wait_s: float = 5.0) -> dict[str, Any]:
        return await asyncio.wait_for(self._block(), wait_s)

    async def _block(self) -> dict[str, Any]:
        out: dict[str, Any] = {"comments": []}
        async for line in self._lines:
            if line == "":
                if len(out) > 1 or out["comments"]:
                    return out
                continue
            if line.startswith(":"):
                out["comments"].append(line[1:].strip())
                continue
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            out[name] = json.loads(value) if name == "data" else value
        raise EOFError("stream ended")

    async def event(self, wait_s: float = 5.0) -> dict[str, Any]:
        """The next block that is not a ping."""
        while True:
            block = await self.block(wait_s)
            if "event" in block:
                return block


def alice_headers(user: str = "alice", **claims: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(user, **claims)}"}


async def mutate(http: httpx.AsyncClient, *mutations: dict[str, Any]) -> None:
    resp = await http.post(
        "/v1/mutations", json={"mutations": list(mutations)}, headers=alice_headers()
    )
    assert [r["status"] for r in resp.json()["results"]] == ["applied"] * len(mutations)


async def publish(http: httpx.AsyncClient, room: str, data: Any) -> None:
    resp = await http.post(
        "/v1/commands",
        json={"type": "publish", "id": "p", "channel": f"room:{room}", "data": data},
        headers=alice_headers(),
    )
    assert resp.json()["type"] == "ok"


def summary(block: dict[str, Any]) -> tuple[str, str, Any]:
    """(event name, channel, what the event says) of an SSE event block."""
    data = block["data"]
    if block["event"] == "change":
        return ("change", data["channel"], (data["data"]["doc_id"], data["data"]["version"]))
    if block["event"] == "message":
        return ("message", data["channel"], data["data"]["data"])
    return (block["event"], data.get("channel", ""), None)


# --- SSE -----------------------------------------------------------------------------------


async def test_sse_welcome_events_and_pings(stack):
    col, doc, cli = ids()
    room = "r" + col
    channels = f"doc:{col}/{doc},collection:{col},room:{room}"
    async with httpx.AsyncClient(base_url=stack.url, timeout=10) as http:
        params = {"channels": channels, "token": token("bob")}
        async with http.stream("GET", "/v1/sse", params=params) as resp:
            assert resp.status_code == 200
            assert resp.headers["content-type"].startswith("text/event-stream")
            sse = SseReader(resp)
            welcome = await sse.event()
            assert welcome["event"] == "welcome"
            assert welcome["retry"] == "1500"
            assert welcome["data"]["cursor"] == welcome["id"]
            assert isinstance(welcome["data"]["session_id"], str)
            await mutate(http, mutation(cli, 1, col, doc, 0, "create", {"t": "milk"}))
            await publish(http, room, {"hi": 1})
            got = [await sse.event() for _ in range(3)]
            assert sorted(summary(b) for b in got) == sorted(
                [
                    ("change", f"doc:{col}/{doc}", (doc, 1)),
                    ("change", f"collection:{col}", (doc, 1)),
                    ("message", f"room:{room}", {"hi": 1}),
                ]
            )
            ids_seen = [welcome["id"]] + [b["id"] for b in got]
            assert len(set(ids_seen)) == 4
            for block in got:
                frame = block["data"]
                assert frame["type"] == "event"
                assert frame["kind"] == block["event"]
                assert isinstance(frame["cursor"], str)
                assert isinstance(frame["ts"], int)
            changes = [b for b in got if b["event"] == "change"]
            assert {b["data"]["data"]["mutation"]["user_id"] for b in changes} == {"alice"}
            ping = await sse.block(PING_S * 4)
            while "event" in ping:
                ping = await sse.block(PING_S * 4)
            assert ping["comments"] == ["ping"]
            metrics = (await http.get("/metrics")).text
            assert 'syncmesh_gateway_connections{transport="sse"} 1.0' in metrics


async def test_sse_refuses_before_the_stream_starts(stack):
    col, doc, _ = ids()
    async with httpx.AsyncClient(base_url=stack.url, timeout=10) as http:
        none = await http.get("/v1/sse", params={"channels": f"doc:{col}/{doc}"})
        assert (none.status_code, none.json()["detail"]["code"]) == (401, "unauthorized")
        bad = await http.get(
            "/v1/sse", params={"channels": f"doc:{col}/{doc}", "token": "not-a-jwt"}
        )
        assert bad.status_code == 401
        limited = alice_headers("eve", channels=[f"doc:{col}/*"])
        forbidden = await http.get(
            "/v1/sse", params={"channels": f"doc:{col}/{doc},collection:{col}"}, headers=limited
        )
        assert (forbidden.status_code, forbidden.json()["detail"]["code"]) == (403, "forbidden")
        malformed = await http.get("/v1/sse", params={"channels": "doc:a.b/c"}, headers=limited)
        assert malformed.status_code == 400
        empty = await http.get("/v1/sse", params={"channels": ""}, headers=limited)
        assert empty.status_code == 400
        stats = await http.get("/metrics")
        assert 'syncmesh_gateway_connections{transport="sse"} 0.0' in stats.text


async def test_sse_last_event_id_resumes_every_channel(stack):
    col, doc, cli = ids()
    doc2 = doc + "b"
    room = "r" + col
    channels = f"doc:{col}/{doc},collection:{col},room:{room}"
    bob = alice_headers("bob")
    async with httpx.AsyncClient(base_url=stack.url, timeout=10) as http:
        async with http.stream("GET", "/v1/sse", params={"channels": channels}, headers=bob) as r:
            sse = SseReader(r)
            assert (await sse.event())["event"] == "welcome"
            await mutate(http, mutation(cli, 1, col, doc, 0, "create", {"n": 1}))
            await publish(http, room, "one")
            seen = [await sse.event() for _ in range(3)]
            last_id = seen[-1]["id"]
        # Missed while disconnected: on every channel.
        await mutate(
            http,
            mutation(cli, 2, col, doc, 1, "set", {"n": 2}),
            mutation(cli, 3, col, doc2, 0, "create", {"m": 1}),
        )
        await publish(http, room, "two")
        await publish(http, room, "three")
        expected = [
            ("change", f"doc:{col}/{doc}", (doc, 2)),
            ("change", f"collection:{col}", (doc, 2)),
            ("change", f"collection:{col}", (doc2, 1)),
            ("message", f"room:{room}", "two"),
            ("message", f"room:{room}", "three"),
        ]
        headers = {**bob, "Last-Event-ID": last_id}
        async with http.stream(
            "GET", "/v1/sse", params={"channels": channels}, headers=headers
        ) as r:
            sse = SseReader(r)
            welcome = await sse.event()
            assert welcome["event"] == "welcome"
            missed = [await sse.event() for _ in expected]
            by_channel = {
                c: [s for s in map(summary, missed) if s[1] == c] for c in channels.split(",")
            }
            assert by_channel == {
                c: [e for e in expected if e[1] == c] for c in channels.split(",")
            }
            # No duplicates: the next event is a new one.
            await publish(http, room, "four")
            assert summary(await sse.event()) == ("message", f"room:{room}", "four")
            resumed_last = missed[-1]["id"]
        # Resume by query (EventSource's first connection) from the id before "four":
        # exactly "four" comes back, then live events.
        params = {"channels": channels, "last_event_id": resumed_last}
        async with http.stream("GET", "/v1/sse", params=params, headers=bob) as r:
            sse = SseReader(r)
            assert (await sse.event())["event"] == "welcome"
            assert summary(await sse.event()) == ("message", f"room:{room}", "four")
            await mutate(http, mutation(cli, 4, col, doc, 2, "set", {"n": 3}))
            fresh = sorted([summary(await sse.event()) for _ in range(2)])
            assert fresh == [
                ("change", f"collection:{col}", (doc, 3)),
                ("change", f"doc:{col}/{doc}", (doc, 3)),
            ]


async def test_sse_garbage_last_event_id_resyncs_every_channel(stack):
    col, doc, cli = ids()
    channels = [f"doc:{col}/{doc}", f"collection:{col}"]
    headers = {**alice_headers("bob"), "Last-Event-ID": "garbage!"}
    async with httpx.AsyncClient(base_url=stack.url, timeout=10) as http:
        params = {"channels": ",".join(channels)}
        async with http.stream("GET", "/v1/sse", params=params, headers=headers) as r:
            assert r.status_code == 200
            sse = SseReader(r)
            welcome = await sse.event()
            assert welcome["event"] == "welcome"
            resyncs = [await sse.event() for _ in channels]
            assert [b["event"] for b in resyncs] == ["resync", "resync"]
            assert sorted(b["data"]["channel"] for b in resyncs) == sorted(channels)
            assert all(b["data"]["type"] == "resync" and b["data"]["reason"] for b in resyncs)
            # The stream is live from a fresh position after the resync.
            await mutate(http, mutation(cli, 1, col, doc, 0, "create", {}))
            assert sorted([summary(await sse.event())[1] for _ in channels]) == sorted(channels)


async def test_sse_stream_ends_when_the_token_expires(stack):
    col, doc, _ = ids()
    async with httpx.AsyncClient(base_url=stack.url, timeout=10) as http:
        params = {"channels": f"doc:{col}/{doc}", "token": token("bob", ttl_s=1.5)}
        started = time.monotonic()
        async with http.stream("GET", "/v1/sse", params=params) as r:
            sse = SseReader(r)
            assert (await sse.event())["event"] == "welcome"
            error = await sse.event(5)
            assert (error["event"], error["data"]["code"]) == ("error", "unauthorized")
            with pytest.raises(EOFError):
                await sse.block(3)
        assert time.monotonic() - started < 4


# --- long-poll -----------------------------------------------------------------------------


async def test_poll_without_cursor_returns_at_once(stack):
    col, doc, _ = ids()
    async with httpx.AsyncClient(base_url=stack.url, timeout=10, headers=alice_headers()) as http:
        started = time.monotonic()
        resp = await http.get("/v1/poll", params={"channels": f"doc:{col}/{doc}", "timeout": 10})
        assert time.monotonic() - started < 2
        body = resp.json()
        assert resp.status_code == 200, resp.text
        assert body["events"] == []
        assert isinstance(body["cursor"], str)
        assert body["cursor"]
        assert (await http.get("/v1/poll", params={"channels": f"doc:{col}/{doc}"})).json()[
            "cursor"
        ]


async def test_poll_blocks_until_an_event_and_times_out(stack):
    col, doc, cli = ids()
    channels = f"doc:{col}/{doc},collection:{col}"
    async with httpx.AsyncClient(base_url=stack.url, timeout=10, headers=alice_headers()) as http:
        cursor = (await http.get("/v1/poll", params={"channels": channels})).json()["cursor"]
        started = time.monotonic()
        idle = await http.get(
            "/v1/poll", params={"channels": channels, "cursor": cursor, "timeout": 0.5}
        )
        elapsed = time.monotonic() - started
        assert 0.45 <= elapsed < 2.5
        assert idle.json()["events"] == []
        cursor = idle.json()["cursor"]

        async def later() -> None:
            await asyncio.sleep(0.4)
            await mutate(http, mutation(cli, 1, col, doc, 0, "create", {"a": 1}))

        writer = asyncio.create_task(later())
        started = time.monotonic()
        got = await http.get(
            "/v1/poll", params={"channels": channels, "cursor": cursor, "timeout": 8}
        )
        await writer
        assert time.monotonic() - started < 4
        events = got.json()["events"]
        assert events
        assert events[0]["type"] == "event"
        assert events[0]["kind"] == "change"
        assert events[0]["data"]["version"] == 1


async def test_poll_cursor_continuity_without_gaps_or_duplicates(stack):
    col, doc, cli = ids()
    room = "r" + col
    channels = f"doc:{col}/{doc},room:{room}"
    params: dict[str, Any] = {"channels": channels, "timeout": 0.3}
    async with httpx.AsyncClient(base_url=stack.url, timeout=10, headers=alice_headers()) as http:
        cursor = (await http.get("/v1/poll", params={"channels": channels})).json()["cursor"]
        seen: list[tuple[str, str, Any]] = []
        version = 0
        mid = 0
        for round_ in range(3):
            for _ in range(2):
                mid += 1
                await mutate(
                    http,
                    mutation(
                        cli,
                        mid,
                        col,
                        doc,
                        version,
                        "create" if not version else "set",
                        {"r": round_},
                    ),
                )
                version += 1
            await publish(http, room, round_)
            # Drain until a poll comes back empty.
            while True:
                body = (await http.get("/v1/poll", params={**params, "cursor": cursor})).json()
                cursor = body["cursor"]
                if not body["events"]:
                    break
                for e in body["events"]:
                    assert e["type"] == "event"
                    seen.append(
                        (e["kind"], e["channel"], e["data"].get("version", e["data"].get("data")))
                    )
        doc_versions = [v for k, c, v in seen if c.startswith("doc:")]
        messages = [v for k, c, v in seen if c.startswith("room:")]
        assert doc_versions == [1, 2, 3, 4, 5, 6]
        assert messages == [0, 1, 2]


async def test_poll_garbage_cursor_and_auth(stack):
    col, doc, _ = ids()
    channels = [f"doc:{col}/{doc}", f"collection:{col}"]
    async with httpx.AsyncClient(base_url=stack.url, timeout=10) as http:
        params = {"channels": ",".join(channels), "cursor": "nope", "timeout": 5}
        started = time.monotonic()
        body = (await http.get("/v1/poll", params=params, headers=alice_headers())).json()
        assert time.monotonic() - started < 2
        assert sorted(e["channel"] for e in body["events"]) == sorted(channels)
        assert {e["type"] for e in body["events"]} == {"resync"}
        fresh = body["cursor"]
        again = await http.get(
            "/v1/poll", params={**params, "cursor": fresh, "timeout": 0.2}, headers=alice_headers()
        )
        assert again.json()["events"] == []
        assert (await http.get("/v1/poll", params=params)).status_code == 401
        limited = alice_headers("eve", channels=[f"doc:{col}/*"])
        assert (await http.get("/v1/poll", params=params, headers=limited)).status_code == 403
        bad = {"channels": "room:no/pe", "timeout": 0}
        assert (await http.get("/v1/poll", params=bad, headers=limited)).status_code == 400


async def test_inbox_mailbox_over_sse_and_poll(stack):
    """``inbox`` without a cursor delivers the stored notifications; with one, only newer."""
    import nats

    from syncmesh_schema import subjects
    from syncmesh_schema.notification import Notification

    user = ids()[2]
    nc = await nats.connect(stack.nats_url)
    js = nc.jetstream()

    async def notify(nid: str) -> None:
        note = Notification(id=nid, kind="k", title=nid, created_at=1, user_id=user)
        await js.publish(subjects.inbox(user), note.to_json_bytes())

    try:
        await notify("n1")
        await notify("n2")
        async with httpx.AsyncClient(base_url=stack.url, timeout=10) as http:
            params = {"channels": "inbox", "token": token(user)}
            async with http.stream("GET", "/v1/sse", params=params) as r:
                sse = SseReader(r)
                assert (await sse.event())["event"] == "welcome"
                stored = [await sse.event() for _ in range(2)]
                assert [b["data"]["data"]["id"] for b in stored] == ["n1", "n2"]
                assert {b["event"] for b in stored} == {"notification"}
                last = stored[-1]["id"]
            await notify("n3")
            params = {**params, "last_event_id": last}
            async with http.stream("GET", "/v1/sse", params=params) as r:
                sse = SseReader(r)
                assert (await sse.event())["event"] == "welcome"
                assert (await sse.event())["data"]["data"]["id"] == "n3"
            polled = await http.get("/v1/poll", params={"channels": "inbox", "token": token(user)})
            body = polled.json()
            assert [e["data"]["id"] for e in body["events"]] == ["n1", "n2", "n3"]
            after = await http.get(
                "/v1/poll",
                params={"channels": "inbox", "token": token(user), "cursor": body["cursor"]}
                | {"timeout": 0.2},
            )
            assert after.json()["events"] == []
    finally:
        await nc.close()


async def test_sse_slow_reader_is_closed(stack):
    """A client that stops reading is cut off once ``send_queue_bytes`` are queued; it
    resumes from the last id it read."""
    room = "slow" + ids()[0]
    blob = "x" * 30_000
    async with httpx.AsyncClient(base_url=stack.url, timeout=10) as http:
        params = {"channels": f"room:{room}", "token": token("bob")}
        async with http.stream("GET", "/v1/sse", params=params) as r:
            sse = SseReader(r)
            assert (await sse.event())["event"] == "welcome"
            dropped = 'syncmesh_gateway_drops_total{reason="slow_consumer"}'
            for i in range(400):  # ~12 MB: more than the socket buffers and the queue
                await publish(http, room, [i, blob])
                if i % 20 == 19 and dropped in (await http.get("/metrics")).text:
                    break
            metrics = (await http.get("/metrics")).text
            assert dropped in metrics
            deadline = time.monotonic() + 5
            while 'syncmesh_gateway_connections{transport="sse"} 0.0' not in metrics:
                assert time.monotonic() < deadline, "the slow stream was not closed"
                await asyncio.sleep(0.05)
                metrics = (await http.get("/metrics")).text
            assert 'syncmesh_gateway_disconnects_total{code="4008"} 1.0' in metrics
