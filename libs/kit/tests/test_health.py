"""Readiness answers 503 naming the failing check; liveness needs nothing."""

from __future__ import annotations

import asyncio

from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry, Counter

from syncmesh_kit.health import Readiness, health_router


def make_app(state: dict[str, bool]) -> FastAPI:
    readiness = Readiness(timeout_s=0.2)

    async def flaky() -> None:
        if not state["ok"]:
            raise RuntimeError("broker down")

    async def slow() -> None:
        await asyncio.sleep(0 if state["ok"] else 1)

    readiness.add("flaky", flaky)
    readiness.add("slow", slow)
    registry = CollectorRegistry()
    Counter("syncmesh_demo_events", "demo", registry=registry).inc()
    app = FastAPI()
    app.include_router(health_router(readiness, registry))
    return app


def test_readyz_reports_each_check():
    state = {"ok": True}
    client = TestClient(make_app(state))
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json() == {"status": "ok", "checks": {"flaky": "ok", "slow": "ok"}}
    state["ok"] = False
    resp = client.get("/readyz")
    assert resp.status_code == 503
    assert resp.json() == {"status": "fail", "checks": {"flaky": "broker down", "slow": "timeout"}}
    assert client.get("/healthz").status_code == 200


def test_metrics_are_prometheus_text():
    resp = TestClient(make_app({"ok": True})).get("/metrics")
    assert resp.headers["content-type"].startswith("text/plain")
    assert "syncmesh_demo_events_total 1.0" in resp.text
