"""``hello.batch`` (PROTOCOL.md §3): with it, several frames may share one WebSocket message,
separated by ``\\n``; without it every message holds exactly one JSON object."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from websockets.asyncio.client import connect

from syncmesh_kit.testing import GatewayClient

from .conftest import ids, token

pytestmark = pytest.mark.e2e

EVENTS = 40


async def raw_session(ws_url: str, user: str, client_id: str, batch: bool | None) -> Any:
    ws = await connect(f"{ws_url}/v1/ws")
    hello: dict[str, Any] = {
        "type": "hello",
        "id": "h",
        "token": token(user),
        "client_id": client_id,
    }
    if batch is not None:
        hello["batch"] = batch
    await ws.send(json.dumps(hello))
    welcome = json.loads(await asyncio.wait_for(ws.recv(), 10))
    assert welcome["type"] == "welcome"
    return ws


async def replay(ws: Any, channel: str, cursor: str) -> list[str]:
    """Subscribe from ``cursor`` and collect raw WebSocket messages until every replayed
    event arrived; the replay queues them all at once, so a batching writer joins them."""
    await ws.send(
        json.dumps({"type": "subscribe", "id": "s", "channel": channel, "cursor": cursor})
    )
    messages: list[str] = []
    events = 0
    while events < EVENTS:
        raw = await asyncio.wait_for(ws.recv(), 10)
        assert isinstance(raw, str)
        messages.append(raw)
        events += sum('"type":"event"' in line for line in raw.split("\n"))
    return messages


async def test_batch_joins_frames_with_newlines_and_plain_sends_one_per_message(stack):
    room = ids()[0]
    channel = f"room:{room}"
    pub, _ = await GatewayClient.hello(stack.ws_url, token("pub"), f"{room}p")
    first = await pub.request({"type": "publish", "channel": channel, "data": -1})
    for n in range(EVENTS):
        await pub.request({"type": "publish", "channel": channel, "data": n})

    batched = await raw_session(stack.ws_url, "b", f"{room}b", batch=True)
    messages = await replay(batched, channel, first["cursor"])
    frames = [json.loads(line) for raw in messages for line in raw.split("\n")]
    assert any("\n" in raw for raw in messages), "a replay burst should share messages"
    assert all(not raw.endswith("\n") and "\n\n" not in raw for raw in messages)
    assert frames[0]["type"] == "subscribed"
    events = [f for f in frames if f["type"] == "event"]
    assert [e["data"]["data"] for e in events] == list(range(EVENTS))  # order kept

    for batch in (False, None):  # explicit false and the default
        plain = await raw_session(stack.ws_url, "p", f"{room}n{batch}", batch=batch)
        messages = await replay(plain, channel, first["cursor"])
        assert all("\n" not in raw for raw in messages)
        frames = [json.loads(raw) for raw in messages]  # exactly one object per message
        assert all(isinstance(f, dict) for f in frames)
        events = [f for f in frames if f["type"] == "event"]
        assert [e["data"]["data"] for e in events] == list(range(EVENTS))
        await plain.close()
    await batched.close()
    await pub.close()
