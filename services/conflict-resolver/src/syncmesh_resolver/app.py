"""``create_app(settings)``: the resolver service's FastAPI app and FastStream subscribers."""

from __future__ import annotations

from fastapi import Depends, FastAPI

from syncmesh_kit.app import service_app
from syncmesh_kit.runtime import ServiceRuntime

from . import DESCRIPTION, DISTRIBUTION, SERVICE, handlers
from .admin import admin_routes
from .service import ResolverService
from .settings import ResolverSettings

CONSUMES = [
    "sm.resolve (queue resolver)",
    "sm.conflict.resolve (queue resolver)",
    "sm.results.resolver-<instance_id>",
    "sm.svc.ping",
    "sm.svc.info.resolver",
]
PUBLISHES = [
    "$KV.sm_conflicts.conflict.<conflict_id>",
    "sm.inbox.<user>",
    "sm.resolution.<collection>",
    "sm.mut.<collection>.<doc_id>",
]


def create_app(settings: ResolverSettings) -> FastAPI:
    runtime = ServiceRuntime(
        settings,
        service=SERVICE,
        distribution=DISTRIBUTION,
        consumes=CONSUMES,
        publishes=PUBLISHES,
    )
    service = ResolverService(settings, runtime)
    runtime.broker.context.set_global("resolver", service)
    runtime.broker.include_router(handlers.router)
    app = service_app(
        runtime,
        title="syncmesh resolver",
        description=DESCRIPTION,
    )
    app.include_router(
        admin_routes(service), prefix="/admin", dependencies=[Depends(runtime.require_admin)]
    )
    return app
