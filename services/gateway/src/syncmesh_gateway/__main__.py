"""``python -m syncmesh_gateway`` / ``syncmesh-gateway``: run the gateway service."""

from __future__ import annotations

from syncmesh_kit.serve import load_settings

from .app import create_app
from .server import GatewayServer, uvicorn_config
from .settings import GatewaySettings


def main() -> None:
    settings = load_settings(GatewaySettings)
    app = create_app(settings)
    # The gateway's own server: on shutdown it closes sockets with 4000 in batches.
    GatewayServer(uvicorn_config(app, settings), app.state.gateway).run()


if __name__ == "__main__":
    main()
