"""``python -m syncmesh_sync`` / ``syncmesh-sync``: run the sync service."""

from syncmesh_kit.serve import run_service

from .app import create_app
from .settings import SyncSettings


def main() -> None:
    run_service(SyncSettings, create_app)


if __name__ == "__main__":
    main()
