"""``python -m syncmesh_gateway`` / ``syncmesh-gateway``: run the gateway service."""

from syncmesh_kit.serve import run_service

from .app import create_app
from .settings import GatewaySettings


def main() -> None:
    run_service(GatewaySettings, create_app)


if __name__ == "__main__":
    main()
