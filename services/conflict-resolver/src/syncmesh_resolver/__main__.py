"""``python -m syncmesh_resolver`` / ``syncmesh-resolver``: run the resolver service."""

from syncmesh_kit.serve import run_service

from .app import create_app
from .settings import ConflictresolverSettings


def main() -> None:
    run_service(ConflictresolverSettings, create_app)


if __name__ == "__main__":
    main()
