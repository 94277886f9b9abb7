"""``create_app(settings)``: the presence service's FastAPI app and FastStream subscribers."""

from __future__ import annotations

from fastapi import Depends, FastAPI

from syncmesh_kit.app import service_app
from syncmesh_kit.runtime import ServiceRuntime

from . import DESCRIPTION, DISTRIBUTION, SERVICE, admin, handlers
from .settings import PresenceSettings

CONSUMES = ["sm.svc.ping", "sm.svc.info.presence"]
PUBLISHES = ["$KV.sm_presence.>", "sm.presence.<room>"]


def create_app(settings: PresenceSettings) -> FastAPI:
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
        title="syncmesh presence",
        description=DESCRIPTION,
    )
    app.include_router(admin.router, prefix="/admin", dependencies=[Depends(runtime.require_admin)])
    return app
