"""``python -m syncmesh_notification`` / ``syncmesh-notification``: run the notification service."""

from syncmesh_kit.serve import run_service

from .app import create_app
from .settings import NotificationSettings


def main() -> None:
    run_service(NotificationSettings, create_app)


if __name__ == "__main__":
    main()
