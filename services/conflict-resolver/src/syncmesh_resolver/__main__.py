"""``python -m syncmesh_resolver`` / ``syncmesh-resolver``: run the resolver service."""

from syncmesh_kit.serve import run_service

from .app import create_app
from .settings import ResolverSettings


def main() -> None:
    run_service(ResolverSettings, create_app)


if __name__ == "__main__":
    main()
