"""uvicorn for the gateway: WebSocket options from the settings, and a graceful shutdown
that closes client connections with 4000 (uvicorn's own would send 1012) before the usual
shutdown sequence."""

from __future__ import annotations

import socket

import uvicorn
from fastapi import FastAPI

from .gateway import Gateway
from .settings import GatewaySettings


def uvicorn_config(app: FastAPI, settings: GatewaySettings, **overrides: object) -> uvicorn.Config:
    heartbeat_s = settings.heartbeat_ms / 1000
    options: dict[str, object] = {
        "host": settings.http.host,
        "port": settings.http.port,
        "log_config": None,  # keep the logging configured by syncmesh_kit.logging
        "lifespan": "on",
        "timeout_graceful_shutdown": 15,
        "proxy_headers": False,
        "ws": "websockets-sansio",
        "ws_max_size": settings.ws_max_message_bytes,
        "ws_ping_interval": heartbeat_s,
        # A peer that answers none of two pings is gone (PROTOCOL.md §3, heartbeats).
        "ws_ping_timeout": 2 * heartbeat_s,
        "ws_per_message_deflate": False,
    }
    options.update(overrides)
    return uvicorn.Config(app, **options)  # type: ignore[arg-type]


class GatewayServer(uvicorn.Server):
    """Stops accepting, closes WebSockets with 4000 in batches, then shuts down as usual."""

    def __init__(self, config: uvicorn.Config, gateway: Gateway) -> None:
        super().__init__(config)
        self.gateway = gateway

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        for server in self.servers:
            server.close()
        await self.gateway.drain()
        await super().shutdown(sockets)
