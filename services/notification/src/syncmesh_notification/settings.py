"""Notification settings: environment variables ``SYNCMESH_NOTIFICATION_*`` (nested with ``__``,
e.g. ``SYNCMESH_NOTIFICATION_HTTP__PORT``), falling back to the shared ``SYNCMESH_*``."""

from __future__ import annotations

from typing import ClassVar

from pydantic_settings import SettingsConfigDict

from syncmesh_kit.settings import HttpSettings, ServiceSettings


class NotificationSettings(ServiceSettings):
    model_config = SettingsConfigDict(
        env_prefix="SYNCMESH_NOTIFICATION_", env_nested_delimiter="__", extra="ignore"
    )

    service_name: ClassVar[str] = "notification"

    http: HttpSettings = HttpSettings(port=8004)
