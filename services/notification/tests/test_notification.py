"""The notification service against a real nats-server: send, dedup beyond the JetStream
window, TTL, read state over HTTP and ``sm.notification.read``, rooms, admin."""

from __future__ import annotations

import time
import uuid

import nats
import pytest

from syncmesh_schema import subjects
from syncmesh_schema.notification import NotificationReadReply, NotificationReadRequest

from .conftest import ADMIN, bearer

pytestmark = pytest.mark.integration


def user() -> str:
    return f"u{uuid.uuid4().hex[:10]}"


def send(app, **body):
    return app.post("/v1/notifications", json={"kind": "k", "title": "t", **body}, headers=ADMIN)


def test_send_needs_admin(app):
    u = user()
    body = {"user_ids": [u], "kind": "k", "title": "t"}
    assert app.post("/v1/notifications", json=body).status_code == 401
    assert app.post("/v1/notifications", json=body, headers=bearer(u)).status_code == 403
    ok = app.post(
        "/v1/notifications",
        json=body,
        headers={"Authorization": "Bearer static-admin-token"},
    )
    assert ok.status_code == 200
    assert len(ok.json()["ids"]) == 1
    bad = app.post("/v1/notifications", json={"kind": "k", "title": "t"}, headers=ADMIN)
    assert bad.status_code == 422


def test_list_read_delete_and_unread(app):
    u, other = user(), user()
    ids = [send(app, user_ids=[u], id=f"n{i}", priority="high").json()["ids"][0] for i in range(3)]
    assert ids == ["n0", "n1", "n2"]
    me = bearer(u)
    assert app.get("/v1/notifications/unread", headers=me).json() == {"unread": 3}
    assert app.get("/v1/notifications/unread", headers=bearer(other)).json() == {"unread": 0}
    page = app.get("/v1/notifications", params={"limit": 2}, headers=me).json()
    assert [n["id"] for n in page["items"]] == ["n0", "n1"]
    assert page["items"][0]["priority"] == "high"
    assert page["next"] is not None
    rest = app.get("/v1/notifications", params={"after": page["next"]}, headers=me).json()
    assert [n["id"] for n in rest["items"]] == ["n2"]
    assert rest["next"] is None
    assert app.post("/v1/notifications/read", json={"ids": ["n1"]}, headers=me).json() == {
        "unread": 2
    }
    unread = app.get("/v1/notifications", params={"unread": "true"}, headers=me).json()
    assert [n["id"] for n in unread["items"]] == ["n0", "n2"]
    assert unread["unread"] == 2
    listed = app.get("/v1/notifications", headers=me).json()["items"]
    assert [n["read"] for n in listed] == [False, True, False]
    assert app.delete("/v1/notifications/n0", headers=me).json() == {"unread": 1}
    assert app.delete("/v1/notifications/n0", headers=bearer(other)).status_code == 404
    assert [n["id"] for n in app.get("/v1/notifications", headers=me).json()["items"]] == [
        "n1",
        "n2",
    ]
    assert app.post("/v1/notifications/read-all", headers=me).json() == {"unread": 0}
    assert app.get("/v1/notifications", headers=me).status_code == 200
    assert app.get("/v1/notifications").status_code == 401


def test_same_id_twice_even_after_the_dedup_window(app):
    u = user()
    first = send(app, user_ids=[u], id="once")
    assert first.json()["duplicates"] == 0
    time.sleep(1.0)  # past the test's 0.5 s JetStream window: only the KV record remembers
    again = send(app, user_ids=[u, u], id="once")
    assert again.json()["ids"] == ["once"]
    assert again.json()["user_ids"] == [u]
    assert again.json()["duplicates"] == 1
    items = app.get("/v1/notifications", headers=bearer(u)).json()["items"]
    assert [n["id"] for n in items] == ["once"]
    admin = app.get(f"/admin/users/{u}", headers=ADMIN).json()
    assert admin["stored"] == 1
    assert admin["unread"] == 1


def test_expired_ones_are_gone(app):
    u = user()
    send(app, user_ids=[u], id="short", ttl_s=1)
    send(app, user_ids=[u], id="long")
    assert app.get("/v1/notifications/unread", headers=bearer(u)).json() == {"unread": 2}
    time.sleep(1.5)
    assert app.get("/v1/notifications/unread", headers=bearer(u)).json() == {"unread": 1}
    items = app.get("/v1/notifications", headers=bearer(u)).json()["items"]
    assert [n["id"] for n in items] == ["long"]


def test_room_without_members_and_with_members(app, nats_module):
    empty = send(app, room=f"r{uuid.uuid4().hex[:8]}")
    assert empty.status_code == 200
    assert empty.json()["ids"] == []
    assert "no known members" in empty.json()["detail"]

    async def join() -> tuple[str, str, str]:
        nc = await nats.connect(nats_module.url)
        kv = await nc.jetstream().key_value(subjects.PRESENCE_BUCKET)
        room, a, b = f"r{uuid.uuid4().hex[:8]}", user(), "bob@example.com"
        from syncmesh_schema.ids import user_token

        for who in (a, b):
            await kv.put(f"member.{room}.{user_token(who)}", b"{}")
        await nc.close()
        return room, a, b

    import asyncio

    room, a, b = asyncio.run(join())
    sent = send(app, room=room, id="hello").json()
    assert sorted(sent["user_ids"]) == sorted([a, b])
    assert sent["ids"] == ["hello", "hello"]
    assert app.get("/v1/notifications/unread", headers=bearer(b)).json() == {"unread": 1}


async def test_read_request_over_nats_and_read_state_message(app, nats_module):
    u = user()
    send(app, user_ids=[u], id="a")
    send(app, user_ids=[u], id="b")
    nc = await nats.connect(nats_module.url)
    try:
        sub = await nc.subscribe(subjects.inbox(u))
        request = NotificationReadRequest(user_id=u, ids=["a"])
        msg = await nc.request(subjects.NOTIFICATION_READ, request.to_json_bytes(), timeout=5)
        assert NotificationReadReply.model_validate_json(msg.data).unread == 1
        state = await sub.next_msg(timeout=5)
        assert b'"kind":"read_state"' in state.data
        assert b'"unread":1' in state.data
        bad = await nc.request(subjects.NOTIFICATION_READ, b"{}", timeout=5)
        assert NotificationReadReply.model_validate_json(bad.data).error_code == "bad_request"
    finally:
        await nc.close()


def test_admin_stats_backlog_metrics(app):
    u = user()
    send(app, user_ids=[u])
    stats = app.get("/admin/stats", headers=ADMIN).json()
    assert stats["sent"] >= 1
    assert stats["delivered"] >= 1
    assert stats["stored"] >= 1
    backlog = app.get("/admin/backlog", headers=ADMIN).json()
    assert any(row["user_id"] == u for row in backlog)
    assert app.get("/admin/stats").status_code == 401
    assert 'syncmesh_notifications_total{event="delivered"}' in app.get("/metrics").text
