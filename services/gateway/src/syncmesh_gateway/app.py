"""``create_app(settings)``: the gateway service's FastAPI app and FastStream subscribers."""

from __future__ import annotations

from fastapi import Depends, FastAPI

from syncmesh_kit.app import service_app
from syncmesh_kit.runtime import ServiceRuntime

from . import DESCRIPTION, DISTRIBUTION, SERVICE, admin, handlers
from .commands import Commands
from .gateway import Gateway
from .routes import http_routes
from .settings import GatewaySettings
from .streams import stream_routes
from .websocket import websocket_routes

CONSUMES = [
    "sm.live.doc.> (KV republish of sm_docs)",
    "sm.room.<room>, sm.presence.<room>, sm.inbox.<user> (ordered consumers)",
    "sm.results.<gateway_id>",
    "sm.svc.ping",
    "sm.svc.info.gateway",
]
PUBLISHES = ["sm.mut.<collection>.<doc_id>", "sm.room.<room>"]


def create_app(settings: GatewaySettings) -> FastAPI:
    runtime = ServiceRuntime(
        settings,
        service=SERVICE,
        distribution=DISTRIBUTION,
        consumes=CONSUMES,
        publishes=PUBLISHES,
    )
    runtime.broker.include_router(handlers.router)
    gateway = Gateway(settings, runtime)
    commands = Commands(gateway)
    app = service_app(
        runtime,
        title="syncmesh gateway",
        description=DESCRIPTION,
    )
    app.state.gateway = gateway
    app.include_router(websocket_routes(gateway, commands))
    app.include_router(http_routes(gateway, commands))
    app.include_router(stream_routes(gateway))
    app.include_router(
        admin.admin_routes(gateway),
        prefix="/admin",
        dependencies=[Depends(runtime.require_admin)],
    )
    return app
