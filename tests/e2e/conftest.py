"""The gateway over real sockets (uvicorn in a thread) with sync in process, against a real
nats-server: one stack per test module."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from syncmesh_gateway.app import create_app as create_gateway
from syncmesh_gateway.server import GatewayServer, uvicorn_config
from syncmesh_gateway.settings import GatewaySettings
from syncmesh_kit.auth import issue_token
from syncmesh_kit.processes import free_port
from syncmesh_kit.settings import DEV_JWT_SECRET
from syncmesh_kit.testing import ServerThread, running_app
from syncmesh_sync.app import create_app as create_sync
from syncmesh_sync.settings import SyncSettings


@dataclass
class Stack:
    nats_url: str
    gateway: ServerThread
    settings: GatewaySettings

    @property
    def url(self) -> str:
        return self.gateway.url

    @property
    def ws_url(self) -> str:
        return self.gateway.ws_url


def token(user: str = "alice", ttl_s: float = 3600, **claims: Any) -> str:
    return issue_token(DEV_JWT_SECRET, user, ttl_s, **claims)


def ids() -> tuple[str, str, str]:
    """A fresh collection, document and client id."""
    u = uuid.uuid4().hex[:10]
    return f"col{u}", f"doc{u}", f"cli{u}"


def mutation(client_id: str, mid: int, col: str, doc: str, base: int, kind: str, payload: Any):
    return {
        "client_id": client_id,
        "mutation_id": mid,
        "collection": col,
        "doc_id": doc,
        "base_version": base,
        "kind": kind,
        "payload": payload,
    }


def gateway_settings(nats_url: str, **overrides: Any) -> GatewaySettings:
    values: dict[str, Any] = {
        "nats": {"url": nats_url},
        "http": {"port": free_port()},
        "hello_timeout_s": 1.0,
        "send_queue_bytes": 256 * 1024,
        "publish_rate": {"rate_per_s": 1000, "burst": 1000},
        "close_timeout_s": 2.0,
        **overrides,
    }
    return GatewaySettings(**values)


def wait_ready(url: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        resp = httpx.get(f"{url}/readyz")
        if resp.status_code == 200:
            return
        if time.monotonic() > deadline:
            pytest.fail(f"gateway not ready: {resp.text}")
        time.sleep(0.05)


@pytest.fixture(scope="module")
def sync_service(nats_module) -> Iterator[TestClient]:
    settings = SyncSettings(
        nats={"url": nats_module.url},
        ahead_deliveries=3,
        ahead_wait_s=0.5,
        resolver_timeout_s=0.3,
        max_deliver=5,
    )
    with running_app(create_sync(settings)) as client:
        yield client


@pytest.fixture(scope="module")
def stack(nats_module, sync_service) -> Iterator[Stack]:
    settings = gateway_settings(nats_module.url)
    app = create_gateway(settings)
    server = GatewayServer(uvicorn_config(app, settings), app.state.gateway)
    with ServerThread(server) as running:
        wait_ready(running.url)
        yield Stack(nats_module.url, running, settings)
