"""``create_app(settings)``: the notification service's FastAPI app and FastStream subscribers."""

from __future__ import annotations

from fastapi import Depends, FastAPI

from syncmesh_kit.app import service_app
from syncmesh_kit.runtime import ServiceRuntime

from . import DESCRIPTION, DISTRIBUTION, SERVICE, handlers
from .admin import admin_routes
from .api import api_routes
from .service import NotificationService
from .settings import NotificationSettings

CONSUMES = [
    "sm.notification.read (queue notification)",
    "$KV.sm_presence.member.<room>.<user>",
    "sm.svc.ping",
    "sm.svc.info.notification",
]
PUBLISHES = [
    "sm.inbox.<user>",
    "$KV.sm_inbox_state.state.<user>",
    "$KV.sm_inbox_state.seen.<user>.<id>",
]


def create_app(settings: NotificationSettings) -> FastAPI:
    runtime = ServiceRuntime(
        settings,
        service=SERVICE,
        distribution=DISTRIBUTION,
        consumes=CONSUMES,
        publishes=PUBLISHES,
    )
    service = NotificationService(settings, runtime)
    runtime.broker.context.set_global("notifications", service)
    runtime.broker.include_router(handlers.router)
    app = service_app(
        runtime,
        title="syncmesh notification",
        description=DESCRIPTION,
    )
    app.include_router(api_routes(service, runtime))
    app.include_router(
        admin_routes(service), prefix="/admin", dependencies=[Depends(runtime.require_admin)]
    )
    return app
