"""``create_app(settings)``: the presence service's FastAPI app and FastStream subscribers."""

from __future__ import annotations

from fastapi import Depends, FastAPI

from syncmesh_kit.app import service_app
from syncmesh_kit.runtime import ServiceRuntime

from . import DESCRIPTION, DISTRIBUTION, SERVICE, handlers
from .admin import admin_routes
from .service import PresenceService
from .settings import PresenceSettings

CONSUMES = [
    "$KV.sm_presence.conn.> (watch; written by gateways)",
    "$KV.sm_presence.config.> (watch)",
    "sm.presence-state (queue presence)",
    "sm.svc.ping",
    "sm.svc.info.presence",
]
PUBLISHES = [
    "sm.presence.<room>",
    "$KV.sm_presence.member.<room>.<user>",
    "$KV.sm_presence.config.<room>",
]


def create_app(settings: PresenceSettings) -> FastAPI:
    runtime = ServiceRuntime(
        settings,
        service=SERVICE,
        distribution=DISTRIBUTION,
        consumes=CONSUMES,
        publishes=PUBLISHES,
    )
    runtime.broker.include_router(handlers.router)
    service = PresenceService(settings, runtime)
    app = service_app(
        runtime,
        title="syncmesh presence",
        description=DESCRIPTION,
    )
    app.include_router(
        admin_routes(service), prefix="/admin", dependencies=[Depends(runtime.require_admin)]
    )
    return app
