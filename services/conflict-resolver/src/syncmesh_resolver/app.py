"""``create_app(settings)``: the resolver service's FastAPI app with its FastStream subscribers."""

from __future__ import annotations

from fastapi import Depends, FastAPI

from syncmesh_kit.app import service_app
from syncmesh_kit.runtime import ServiceRuntime

from . import DISTRIBUTION, SERVICE, admin, handlers
from .settings import ConflictresolverSettings

CONSUMES = ["sm.svc.ping", "sm.svc.info.resolver"]
PUBLISHES = ['$KV.sm_conflicts.>', 'sm.inbox.<user>']


def create_app(settings: ConflictresolverSettings) -> FastAPI:
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
        description="Conflict strategies, three-way merge, OT, CRDTs and the manual conflict queue.",
    )
    app.include_router(admin.router, prefix="/admin", dependencies=[Depends(runtime.require_admin)])
    return app
