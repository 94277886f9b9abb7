"""How a service describes itself: ``GET /admin/info`` and the NATS subjects
``sm.svc.ping`` (every instance answers) and ``sm.svc.info.<service>``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Request
from faststream import Context
from faststream.nats import NatsRouter

from syncmesh_schema import subjects
from syncmesh_schema.service import ServiceInfo

from .runtime import ServiceRuntime


def info_subscribers(service: str) -> NatsRouter:
    """Core-NATS responders with this instance's :class:`ServiceInfo` (no queue group: a
    ping collects one answer per running instance)."""
    router = NatsRouter()

    @router.subscriber(subjects.SERVICE_PING)
    @router.subscriber(subjects.service_info(service))
    async def describe(runtime: Annotated[ServiceRuntime, Context("runtime")]) -> ServiceInfo:
        return runtime.info()

    return router


def info_routes() -> APIRouter:
    router = APIRouter(tags=["admin"])

    @router.get("/info", summary="Version, uptime and the subjects this service uses")
    async def info(request: Request) -> ServiceInfo:
        runtime: ServiceRuntime = request.state.runtime
        return runtime.info()

    return router
