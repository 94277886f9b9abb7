"""Notifications end to end through the real gateway: every device of a user gets each
notification, reading on one device updates the unread count on the others, a mailbox
replay after 1,000 missed notifications, TTL, dedup beyond the JetStream window, and no way
to read another user's inbox."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from syncmesh_gateway.app import create_app as create_gateway
from syncmesh_gateway.server import GatewayServer, uvicorn_config
from syncmesh_kit.auth import issue_token
from syncmesh_kit.settings import DEV_JWT_SECRET
from syncmesh_kit.testing import GatewayClient, ServerThread, running_app
from syncmesh_notification.app import create_app as create_notification
from syncmesh_notification.settings import NotificationSettings
from syncmesh_schema.notification import READ_STATE_KIND

from .conftest import Stack, gateway_settings, token, wait_ready

pytestmark = pytest.mark.e2e

ADMIN = {"Authorization": f"Bearer {issue_token(DEV_JWT_SECRET, 'ops', 3600, admin=True)}"}
DEDUP_WINDOW_S = 0.5
"""JetStream's Msg-Id window in this module: a resend after it meets only the KV record."""


@pytest.fixture(scope="module")
def notifications(nats_module) -> Iterator[TestClient]:
    settings = NotificationSettings(nats={"url": nats_module.url, "dedup_window_s": DEDUP_WINDOW_S})
    with running_app(create_notification(settings)) as client:
        client.headers.update(ADMIN)
        yield client


@pytest.fixture(scope="module")
def gateway(nats_module, notifications) -> Iterator[Stack]:
    settings = gateway_settings(
        nats_module.url, nats={"url": nats_module.url, "dedup_window_s": DEDUP_WINDOW_S}
    )
    app = create_gateway(settings)
    server = GatewayServer(uvicorn_config(app, settings), app.state.gateway)
    with ServerThread(server) as running:
        wait_ready(running.url)
        yield Stack(nats_module.url, running, settings)


def user() -> str:
    return f"u{uuid.uuid4().hex[:10]}"


async def send(notifications: TestClient, **body: Any) -> dict[str, Any]:
    resp = await asyncio.to_thread(
        notifications.post, "/v1/notifications", json={"kind": "k", "title": "t", **body}
    )
    assert resp.status_code == 200, resp.text
    return dict(resp.json())


async def device(gateway: Stack, who: str, **subscribe: Any) -> GatewayClient:
    client, welcome = await GatewayClient.hello(
        gateway.ws_url, token(who), f"c{uuid.uuid4().hex[:10]}"
    )
    assert welcome["type"] == "welcome", welcome
    reply = await client.request({"type": "subscribe", "channel": "inbox", **subscribe})
    assert reply["type"] == "subscribed", reply
    return client


async def notes(client: GatewayClient, count: int, wait_s: float = 10.0) -> list[dict[str, Any]]:
    """The next ``count`` real notifications (read-state messages are skipped)."""
    out: list[dict[str, Any]] = []
    while len(out) < count:
        event = await client.next(wait_s, type="event", channel="inbox")
        if event["data"]["kind"] != READ_STATE_KIND:
            out.append(event)
    return out


async def quiet(client: GatewayClient, wait_s: float = 0.5) -> list[dict[str, Any]]:
    """Whatever arrives within ``wait_s``."""
    got = list(client.backlog)
    client.backlog.clear()
    deadline = time.monotonic() + wait_s
    while (left := deadline - time.monotonic()) > 0:
        try:
            got.append(await client.recv(left))
        except TimeoutError:
            break
    return got


async def test_two_devices_get_each_notification_and_share_the_unread_count(gateway, notifications):
    alice = user()
    phone, laptop = await device(gateway, alice), await device(gateway, alice)
    try:
        for n in ("n1", "n2"):
            await send(notifications, user_ids=[alice], id=n, body=f"body {n}")
        for dev in (phone, laptop):
            got = await notes(dev, 2)
            assert [e["data"]["id"] for e in got] == ["n1", "n2"]
            assert got[0]["kind"] == "notification"
            assert got[0]["data"]["read"] is False
            assert got[0]["data"]["body"] == "body n1"
        reply = await phone.request({"type": "notifications_read", "ids": ["n1"]})
        assert reply == {"type": "ok", "re": reply["re"], "unread": 1}
        state = await laptop.next(type="event", channel="inbox")
        assert state["data"]["kind"] == READ_STATE_KIND
        assert state["data"]["data"]["unread"] == 1
        assert state["data"]["data"]["ids"] == ["n1"]
        everything = await laptop.request({"type": "notifications_read", "all": True})
        assert everything["unread"] == 0
        await phone.next(type="event", channel="inbox")  # its own first read, then laptop's
        state = await phone.next(type="event", channel="inbox")
        assert state["data"]["data"] == {"unread": 0, "ids": ["n2"], "all": True, "deleted": False}
    finally:
        await phone.close()
        await laptop.close()


@pytest.mark.slow
async def test_offline_user_gets_every_missed_one_in_order_once(gateway, notifications):
    bob = user()
    for i in range(3):
        await send(notifications, user_ids=[bob], id=f"short{i}", ttl_s=1)
    sent = [f"m{i:04d}" for i in range(1000)]
    for i, nid in enumerate(sent):
        await send(notifications, user_ids=[bob], id=nid, priority="low" if i % 2 else "high")
    await asyncio.sleep(1.2)  # the ttl_s=1 ones are past their TTL by now
    mailbox = await device(gateway, bob)  # no cursor: every stored, unexpired one
    try:
        got = await notes(mailbox, 1000, wait_s=20)
        assert [e["data"]["id"] for e in got] == sent
        assert not [
            e for e in await quiet(mailbox) if e.get("type") == "event"
        ]  # exactly once, no expired ones
        last = got[499]["cursor"]
    finally:
        await mailbox.close()
    resumed = await device(gateway, bob, cursor=last)  # with the last cursor seen
    try:
        got = await notes(resumed, 500, wait_s=20)
        assert [e["data"]["id"] for e in got] == sent[500:]
        assert not [e for e in await quiet(resumed) if e.get("type") == "event"]
    finally:
        await resumed.close()


async def test_same_id_twice_even_after_the_dedup_window_is_delivered_once(gateway, notifications):
    carol = user()
    live = await device(gateway, carol)
    try:
        first = await send(notifications, user_ids=[carol], id="dup")
        await asyncio.sleep(DEDUP_WINDOW_S * 3)
        second = await send(notifications, user_ids=[carol], id="dup")
        assert first["ids"] == second["ids"] == ["dup"]
        assert second["duplicates"] == 1
        assert [e["data"]["id"] for e in await notes(live, 1)] == ["dup"]
        assert not [e for e in await quiet(live) if e.get("type") == "event"]
    finally:
        await live.close()
    mailbox = await device(gateway, carol)
    try:
        assert [e["data"]["id"] for e in await notes(mailbox, 1)] == ["dup"]
        assert not [e for e in await quiet(mailbox) if e.get("type") == "event"]
    finally:
        await mailbox.close()


async def test_nobody_reads_another_users_inbox(gateway, notifications):
    dave, eve = user(), user()
    await send(notifications, user_ids=[dave], id="secret")
    client, _ = await GatewayClient.hello(
        gateway.ws_url, token(eve, channels=["*"]), f"c{uuid.uuid4().hex[:10]}"
    )
    try:
        for channel in (
            f"inbox:{dave}",
            f"inbox/{dave}",
            f"inbox.{dave}",
            "inbox:*",
            "inbox.>",
            f"inbox {dave}",
            "INBOX",
            f"room:{dave}",
        ):
            reply = await client.request({"type": "subscribe", "channel": channel})
            if channel.startswith("room:"):
                continue  # a room of that name is not dave's inbox
            assert reply["type"] == "error", (channel, reply)
        reply = await client.request({"type": "subscribe", "channel": "inbox"})
        assert reply["type"] == "subscribed"
        events = [e for e in await quiet(client) if e.get("type") == "event"]
        assert events == []
        marked = await client.request({"type": "notifications_read", "ids": ["secret"]})
        assert marked["unread"] == 0
    finally:
        await client.close()
    own = await device(gateway, dave)
    try:
        got = await notes(own, 1)
        assert got[0]["data"]["id"] == "secret"
        assert got[0]["data"]["read"] is False
    finally:
        await own.close()
