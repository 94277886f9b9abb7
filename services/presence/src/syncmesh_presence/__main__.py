"""``python -m syncmesh_presence`` / ``syncmesh-presence``: run the presence service."""

from syncmesh_kit.serve import run_service

from .app import create_app
from .settings import PresenceSettings


def main() -> None:
    run_service(PresenceSettings, create_app)


if __name__ == "__main__":
    main()
