"""Connection life: hello / welcome, auth failures (4001), client id ownership, refresh,
ping, malformed / oversized / unknown frames, rate limits."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed

from syncmesh_kit.testing import GatewayClient

from .conftest import ids, token

pytestmark = pytest.mark.e2e


async def read_until_closed(
    client: GatewayClient, wait_s: float = 5.0
) -> tuple[list[dict[str, Any]], int | None]:
    """Every frame until the server closes, and the close code."""
    frames = []
    try:
        while True:
            frames.append(await client.recv(wait_s))
    except ConnectionClosed as exc:
        return frames, exc.rcvd.code if exc.rcvd else None


async def closed_code(client: GatewayClient, wait_s: float = 5.0) -> int | None:
    return (await read_until_closed(client, wait_s))[1]


async def test_hello_welcome_ping(stack):
    _, _, cli = ids()
    client, welcome = await GatewayClient.hello(stack.ws_url, token("alice"), cli)
    assert welcome["type"] == "welcome"
    assert welcome["user_id"] == "alice"
    assert welcome["client_id"] == cli
    assert welcome["last_mutation_id"] == 0
    assert welcome["max_frame_bytes"] == 65536
    assert welcome["heartbeat_ms"] == stack.settings.heartbeat_ms
    assert isinstance(welcome["session_id"], str)
    assert abs(welcome["server_time"] - time.time() * 1000) < 5000
    pong = await client.request({"type": "ping"})
    assert pong["type"] == "pong"
    assert pong["server_time"] >= welcome["server_time"]
    await client.close()


@pytest.mark.parametrize(
    "bad", ["garbage", token("alice", ttl_s=-10), token("alice").replace("e", "f", 3)]
)
async def test_bad_tokens_get_unauthorized_then_4001(stack, bad):
    client, reply = await GatewayClient.hello(stack.ws_url, bad, "c1")
    assert (reply["type"], reply["code"]) == ("error", "unauthorized")
    assert await closed_code(client) == 4001


async def test_no_hello_in_time_closes_4001(stack):
    client = await GatewayClient.connect(stack.ws_url)
    reply = await client.request({"type": "ping"})
    assert (reply["type"], reply["code"]) == ("error", "unauthorized")
    assert await closed_code(client) == 4001


async def test_token_expiry_closes_4001_and_refresh_extends(stack):
    _, _, cli = ids()
    client, _ = await GatewayClient.hello(stack.ws_url, token("alice", ttl_s=2), cli)
    new = token("alice", ttl_s=3600)
    ok = await client.request({"type": "refresh", "token": new})
    assert ok["type"] == "ok"
    assert ok["exp"] > 1e9
    other = await client.request({"type": "refresh", "token": token("mallory")})
    assert other["code"] == "forbidden"
    await asyncio.sleep(2.5)
    assert (await client.request({"type": "ping"}))["type"] == "pong"  # still open
    await client.close()
    short, _ = await GatewayClient.hello(stack.ws_url, token("alice", ttl_s=1), cli + "x")
    assert (await short.next(3, type="error"))["code"] == "unauthorized"
    assert await closed_code(short) == 4001


async def test_client_id_belongs_to_its_first_user(stack):
    _, _, cli = ids()
    alice, _ = await GatewayClient.hello(stack.ws_url, token("alice"), cli)
    mallory, reply = await GatewayClient.hello(stack.ws_url, token("mallory"), cli)
    assert (reply["type"], reply["code"]) == ("error", "forbidden")
    assert await closed_code(mallory) == 4003
    await alice.close()


async def test_bad_frames_are_answered_and_the_connection_stays_usable(stack):
    _, _, cli = ids()
    client, _ = await GatewayClient.hello(stack.ws_url, token("alice"), cli)
    await client.send("{not json")
    error = await client.recv()
    assert (error["type"], error["code"]) == ("error", "bad_request")
    assert "re" not in error
    unknown = await client.request({"type": "teleport"})
    assert unknown["code"] == "bad_request"
    assert "teleport" in unknown["message"]
    missing = await client.request({"type": "subscribe"})
    assert missing["code"] == "bad_request"
    bad_channel = await client.request({"type": "subscribe", "channel": "doc:a.b/c"})
    assert bad_channel["code"] == "bad_request"
    await client.send({"type": "ping", "id": "big", "pad": "x" * 70_000})
    too_large = await client.recv()
    assert (too_large["type"], too_large["code"]) == ("error", "too_large")
    again = await client.request({"type": "hello", "token": token("alice"), "client_id": cli})
    assert again["code"] == "bad_request"
    later = await client.request({"type": "presence_state", "room": "r1"})
    assert later["code"] == "unavailable"
    assert (await client.request({"type": "ping"}))["type"] == "pong"
    await client.close()


async def test_flooding_gets_rate_limited_then_4029(stack):
    _, _, cli = ids()
    client, _ = await GatewayClient.hello(stack.ws_url, token("alice"), cli)
    for i in range(1000):
        await client.send({"type": "ping", "id": f"p{i}"})
    frames, code = await read_until_closed(client)
    assert code == 4029
    assert {f.get("code") or f["type"] for f in frames} == {"pong", "rate_limited"}
