"""Each of the five services, in process, against a real nats-server: it connects, creates
the JetStream topology, answers health, metrics and admin routes, and its NATS subscribers
answer over real NATS."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import nats
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from syncmesh_kit.auth import issue_token
from syncmesh_kit.settings import DEV_JWT_SECRET
from syncmesh_schema import subjects
from syncmesh_schema.service import ServiceInfo

pytestmark = pytest.mark.integration


def _factories() -> dict[str, tuple[Callable[[Any], FastAPI], type]]:
    from syncmesh_gateway.app import create_app as gateway
    from syncmesh_gateway.settings import GatewaySettings
    from syncmesh_notification.app import create_app as notification
    from syncmesh_notification.settings import NotificationSettings
    from syncmesh_presence.app import create_app as presence
    from syncmesh_presence.settings import PresenceSettings
    from syncmesh_resolver.app import create_app as resolver
    from syncmesh_resolver.settings import ResolverSettings
    from syncmesh_sync.app import create_app as sync
    from syncmesh_sync.settings import SyncSettings

    return {
        "gateway": (gateway, GatewaySettings),
        "sync": (sync, SyncSettings),
        "resolver": (resolver, ResolverSettings),
        "presence": (presence, PresenceSettings),
        "notification": (notification, NotificationSettings),
    }


SERVICES = ["gateway", "sync", "resolver", "presence", "notification"]


def wait_ready(client: TestClient, timeout: float = 15.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        resp = client.get("/readyz")
        if resp.status_code == 200:
            return resp.json()
        time.sleep(0.05)
    pytest.fail(f"not ready after {timeout}s: {resp.json()}")


@pytest.fixture(params=SERVICES)
def service(request, nats_module) -> Iterator[tuple[str, TestClient]]:
    create_app, settings_cls = _factories()[request.param]
    settings = settings_cls(nats={"url": nats_module.url}, jwt_secret=DEV_JWT_SECRET)
    with TestClient(create_app(settings)) as client:
        yield request.param, client


def test_health_ready_metrics(service):
    name, client = service
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = wait_ready(client)
    assert ready["status"] == "ok"
    # Every service runs the kit's checks; some add their own (presence: its roster).
    assert {"nats", "jetstream", "subscribers"} <= set(ready["checks"])
    assert set(ready["checks"].values()) == {"ok"}
    metrics = client.get("/metrics").text
    assert f'syncmesh_build_info{{service="{name}",version="0.1.0"}} 1.0' in metrics
    assert client.get("/openapi.json").json()["info"]["title"] == f"syncmesh {name}"


def test_admin_needs_an_admin_token(service):
    name, client = service
    wait_ready(client)
    assert client.get("/admin/info").status_code == 401
    user = issue_token(DEV_JWT_SECRET, "alice", 60)
    resp = client.get("/admin/info", headers={"Authorization": f"Bearer {user}"})
    assert resp.status_code == 403
    admin = issue_token(DEV_JWT_SECRET, "ops", 60, admin=True)
    info = ServiceInfo.model_validate(
        client.get("/admin/info", headers={"Authorization": f"Bearer {admin}"}).json()
    )
    assert (info.service, info.version) == (name, "0.1.0")
    assert info.uptime_s >= 0
    assert f"sm.svc.info.{name}" in info.consumes
    streams = client.get("/admin/streams", params={"token": admin}).json()
    assert {s["name"] for s in streams if s["exists"]} >= {
        subjects.MUTATIONS_STREAM,
        subjects.kv_stream(subjects.DOCS_BUCKET),
        subjects.INBOX_STREAM,
    }


async def test_answers_over_nats(service, nats_module):
    name, client = service
    wait_ready(client)
    admin = issue_token(DEV_JWT_SECRET, "ops", 60, admin=True)
    instance = client.get("/admin/info", params={"token": admin}).json()["instance"]
    nc = await nats.connect(nats_module.url)
    try:
        reply = await nc.request(subjects.service_info(name), b"", timeout=5)
        info = ServiceInfo.model_validate_json(reply.data)
        assert (info.service, info.instance) == (name, instance)
        # sm.svc.ping is answered by every running instance.
        inbox = nc.new_inbox()
        sub = await nc.subscribe(inbox)
        await nc.publish(subjects.SERVICE_PING, b"", reply=inbox)
        pong = ServiceInfo.model_validate_json((await sub.next_msg(timeout=5)).data)
        assert pong.instance == instance
    finally:
        await nc.close()
