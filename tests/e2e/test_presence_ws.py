"""Presence through the real gateway and the presence service: join / status / leave with the
debounce, presence_state at each step, and a SIGKILLed gateway's users leaving by themselves
and coming back through another gateway."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from syncmesh_kit.processes import ManagedProcess, free_port, wait_http_ok
from syncmesh_kit.testing import GatewayClient, running_app
from syncmesh_presence.app import create_app as create_presence
from syncmesh_presence.settings import PresenceSettings

from .conftest import token

pytestmark = pytest.mark.e2e

GRACE_S = 1.0


@pytest.fixture(scope="module")
def presence_service(nats_module) -> Iterator[TestClient]:
    settings = PresenceSettings(nats={"url": nats_module.url}, leave_grace_s=GRACE_S)
    with running_app(create_presence(settings)) as client:
        yield client


def members(reply: dict) -> dict[str, tuple[str, int]]:
    return {m["user_id"]: (m["status"], m["connections"]) for m in reply["members"]}


async def test_two_users_three_connections(stack, presence_service):
    room = f"r{uuid.uuid4().hex[:8]}"
    watcher, _ = await GatewayClient.hello(stack.ws_url, token("watcher"), f"w{room}")
    sub = await watcher.request({"type": "subscribe", "channel": f"presence:{room}"})
    assert sub["type"] == "subscribed"
    alice1, _ = await GatewayClient.hello(stack.ws_url, token("alice"), f"a1{room}")
    alice2, _ = await GatewayClient.hello(stack.ws_url, token("alice"), f"a2{room}")
    bob, _ = await GatewayClient.hello(stack.ws_url, token("bob"), f"b{room}")

    ok = await alice1.request({"type": "presence", "room": room, "status": "online"})
    assert ok["type"] == "ok"
    join = await watcher.next(type="event", channel=f"presence:{room}")
    assert (join["kind"], join["data"]["user_id"], join["data"]["connections"]) == (
        "join",
        "alice",
        1,
    )
    # A second connection of the same user is no new join.
    await alice2.request({"type": "presence", "room": room, "status": "online"})
    await bob.request(
        {"type": "presence", "room": room, "status": "busy", "meta": {"typing": True}}
    )
    bob_join = await watcher.next(type="event", channel=f"presence:{room}")
    assert (bob_join["kind"], bob_join["data"]["user_id"]) == ("join", "bob")
    assert bob_join["data"]["meta"] == {"typing": True}
    state = await alice1.request({"type": "presence_state", "room": room})
    assert state["type"] == "presence"
    assert members(state) == {"alice": ("online", 2), "bob": ("busy", 1)}
    # Status change → one status event.
    await alice2.request({"type": "presence", "room": room, "status": "away"})
    status = await watcher.next(type="event", channel=f"presence:{room}", kind="status")
    assert (status["data"]["user_id"], status["data"]["status"]) == ("alice", "away")
    # One of alice's connections closes: still present, no leave.
    await alice1.close()
    await asyncio.sleep(GRACE_S + 0.8)
    state = await bob.request({"type": "presence_state", "room": room})
    assert members(state)["alice"][1] == 1
    # bob reconnects within the grace period: neither leave nor join.
    await bob.close()
    bob2, _ = await GatewayClient.hello(stack.ws_url, token("bob"), f"b2{room}")
    await bob2.request({"type": "presence", "room": room, "status": "online"})
    await asyncio.sleep(GRACE_S + 0.8)
    kinds = [f["kind"] for f in watcher.backlog if f.get("type") == "event"]
    assert "leave" not in kinds
    assert kinds.count("join") == 0
    # alice's last connection leaves explicitly → leave after the grace.
    await alice2.request({"type": "presence", "room": room, "status": "offline"})
    leave = await watcher.next(wait_s=GRACE_S + 5, type="event", kind="leave")
    assert leave["data"]["user_id"] == "alice"
    state = await bob2.request({"type": "presence_state", "room": room})
    assert set(members(state)) == {"bob"}
    # A token that may not read the room may not announce itself there.
    eve, _ = await GatewayClient.hello(stack.ws_url, token("eve", channels=["doc:*"]), f"e{room}")
    denied = await eve.request({"type": "presence", "room": room, "status": "online"})
    assert (denied["type"], denied["code"]) == ("error", "forbidden")
    for client in (alice2, bob2, watcher, eve):
        await client.close()


@pytest.mark.slow
async def test_killed_gateway_users_leave_and_come_back(
    stack, presence_service, nats_module, tmp_path: Path
):
    room = f"k{uuid.uuid4().hex[:8]}"
    port = free_port()
    env = dict(os.environ) | {
        "SYNCMESH_NATS__URL": nats_module.url,
        "SYNCMESH_GATEWAY_HTTP__PORT": str(port),
        "SYNCMESH_GATEWAY_PRESENCE_TTL_S": "3",
        "SYNCMESH_GATEWAY_PRESENCE_HEARTBEAT_S": "1",
        "SYNCMESH_LOG__FORMAT": "text",
    }
    victim = ManagedProcess(
        "gateway-victim",
        [sys.executable, "-m", "syncmesh_gateway"],
        env=env,
        log_path=tmp_path / "victim.log",
    ).start()
    try:
        wait_http_ok(f"http://127.0.0.1:{port}/readyz", 30, victim)
        watcher, _ = await GatewayClient.hello(stack.ws_url, token("watcher"), f"w{room}")
        await watcher.request({"type": "subscribe", "channel": f"presence:{room}"})
        users = [f"u{i}" for i in range(100)]
        clients = []
        for user in users:
            client, _ = await GatewayClient.hello(
                f"ws://127.0.0.1:{port}", token(user), f"c{user}{room}"
            )
            assert (await client.request({"type": "presence", "room": room, "status": "online"}))[
                "type"
            ] == "ok"
            clients.append(client)
        joins = await watcher.events(f"presence:{room}", 100, wait_s=20)
        assert {e["data"]["user_id"] for e in joins if e["kind"] == "join"} == set(users)
        t0 = time.monotonic()
        victim.kill()  # SIGKILL: no clean close, no purge
        leaves = await watcher.events(f"presence:{room}", 100, wait_s=30)
        took = time.monotonic() - t0
        assert {e["data"]["user_id"] for e in leaves if e["kind"] == "leave"} == set(users)
        assert took < 3 + GRACE_S + 10
        print(
            f"\n100 users of a SIGKILLed gateway left within {took:.1f}s "
            f"(TTL 3 s, grace {GRACE_S} s)"
        )
        # They come back through another gateway.
        back = []
        for user in users[:10]:
            client, _ = await GatewayClient.hello(stack.ws_url, token(user), f"d{user}{room}")
            await client.request({"type": "presence", "room": room, "status": "online"})
            back.append(client)
        rejoins = await watcher.events(f"presence:{room}", 10, wait_s=20)
        assert {e["data"]["user_id"] for e in rejoins if e["kind"] == "join"} == set(users[:10])
        for client in [*back, watcher]:
            await client.close()
        for client in clients:  # their gateway is gone; close the client side
            with contextlib.suppress(Exception):
                await client.close()
    finally:
        victim.stop()
