"""``create_app(settings)``: the sync service's FastAPI app and FastStream subscribers."""

from __future__ import annotations

from fastapi import Depends, FastAPI

from syncmesh_kit.app import service_app
from syncmesh_kit.runtime import ServiceRuntime

from . import DESCRIPTION, DISTRIBUTION, SERVICE, handlers
from .admin import admin_routes
from .service import SyncService
from .settings import SyncSettings

CONSUMES = ["sm.mut.> (durable sync-intake)", "sm.svc.ping", "sm.svc.info.sync"]
PUBLISHES = [
    "$KV.sm_docs.>",
    "sm.live.doc.<collection>.<doc_id>",
    "sm.results.<gateway_id>",
    "sm.resolve",
]


def create_app(settings: SyncSettings) -> FastAPI:
    runtime = ServiceRuntime(
        settings,
        service=SERVICE,
        distribution=DISTRIBUTION,
        consumes=CONSUMES,
        publishes=PUBLISHES,
    )
    runtime.broker.include_router(handlers.router)
    service = SyncService(settings, runtime)
    app = service_app(
        runtime,
        title="syncmesh sync",
        description=DESCRIPTION,
    )
    app.include_router(
        admin_routes(service), prefix="/admin", dependencies=[Depends(runtime.require_admin)]
    )
    return app
