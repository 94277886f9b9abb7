"""``/healthz``, ``/readyz`` and ``/metrics`` — the same for every service.

``/healthz`` answers from memory (liveness must never depend on NATS, or a NATS blip restarts
every pod). ``/readyz`` runs named async checks concurrently, each bounded in time, and
answers 503 with the failing ones.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

Check = Callable[[], Awaitable[None]]
"""A readiness check: returns when healthy, raises (with a message) when not."""


class Readiness:
    """Named readiness checks; a service adds its own next to the kit's NATS checks."""

    def __init__(self, timeout_s: float = 1.5) -> None:
        self._checks: dict[str, Check] = {}
        self._timeout = timeout_s

    def add(self, name: str, check: Check) -> None:
        self._checks[name] = check

    async def run(self) -> dict[str, str]:
        """Name → ``"ok"`` or the reason it failed."""

        async def one(check: Check) -> str:
            try:
                await asyncio.wait_for(check(), self._timeout)
            except TimeoutError:
                return "timeout"
            except Exception as exc:  # a check reports any failure as its reason
                return str(exc) or type(exc).__name__
            return "ok"

        names = list(self._checks)
        results = await asyncio.gather(*(one(self._checks[n]) for n in names))
        return dict(zip(names, results, strict=True))


def health_router(readiness: Readiness, registry: CollectorRegistry) -> APIRouter:
    router = APIRouter(tags=["health"])

    @router.get("/healthz", summary="Liveness: the process answers (no I/O)")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get(
        "/readyz",
        summary="Readiness: NATS, JetStream and the service's own checks",
        responses={503: {"description": "a check failed; the body names it"}},
    )
    async def readyz() -> JSONResponse:
        checks = await readiness.run()
        ok = all(v == "ok" for v in checks.values())
        return JSONResponse(
            {"status": "ok" if ok else "fail", "checks": checks}, status_code=200 if ok else 503
        )

    @router.get("/metrics", summary="Prometheus metrics", response_class=Response)
    async def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return router
