"""``python -m syncmesh_gateway`` / ``syncmesh-gateway``: run the gateway service."""

from __future__ import annotations

import logging

from pydantic import ValidationError

from syncmesh_kit.logging import configure_logging
from syncmesh_kit.settings import DEV_JWT_SECRET

from .app import create_app
from .server import GatewayServer, uvicorn_config
from .settings import GatewaySettings


def main() -> None:
    try:
        settings = GatewaySettings()
    except ValidationError as exc:
        raise SystemExit(f"invalid gateway configuration:\n{exc}") from None
    configure_logging(settings.log, GatewaySettings.service_name)
    if settings.uses_dev_secret:
        logging.getLogger("gateway").warning(
            "using the development JWT secret %r: set SYNCMESH_JWT_SECRET for anything but "
            "local development (production refuses to start with it)",
            DEV_JWT_SECRET,
        )
    app = create_app(settings)
    GatewayServer(uvicorn_config(app, settings), app.state.gateway).run()


if __name__ == "__main__":
    main()
