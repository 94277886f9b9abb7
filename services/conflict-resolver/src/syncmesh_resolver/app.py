"""``create_app(settings)``: the resolver service's FastAPI app and FastStream subscribers."""

from __future__ import annotations

from fastapi import Depends, FastAPI

from syncmesh_kit.app import service_app
from syncmesh_kit.runtime import ServiceRuntime

from . import DESCRIPTION, DISTRIBUTION, SERVICE, admin, handlers
from .settings import ResolverSettings

CONSUMES = ["sm.svc.ping", "sm.svc.info.resolver"]
PUBLISHES = ["$KV.sm_conflicts.>", "sm.inbox.<user>"]


def create_app(settings: ResolverSettings) -> FastAPI:
    runtime = ServiceRuntime(
        settings,
        service=SERVICE,
        distribution=DISTRIBUTION,
        consumes=CONSUMES,
        publishes=PUBLISHES,
    )
    runtime.broker.include_router(handlers.router)
    app = service_app(
        runtime,
        title="syncmesh resolver",
        description=DESCRIPTION,
    )
    app.include_router(admin.router, prefix="/admin", dependencies=[Depends(runtime.require_admin)])
    return app
