"""Notification settings: environment variables ``SYNCMESH_NOTIFICATION_*`` (nested with ``__``,
e.g. ``SYNCMESH_NOTIFICATION_HTTP__PORT``), falling back to the shared ``SYNCMESH_*``."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from syncmesh_kit.settings import HttpSettings, ServiceSettings

DAY_S = 24 * 3600


class NotificationSettings(ServiceSettings):
    model_config = SettingsConfigDict(
        env_prefix="SYNCMESH_NOTIFICATION_", env_nested_delimiter="__", extra="ignore"
    )

    service_name: ClassVar[str] = "notification"

    http: HttpSettings = HttpSettings(port=8004)
    seen_ttl_s: int = Field(default=30 * DAY_S, ge=60)
    """How long a notification id stays known for dedup (KV record TTL). Defaults to the
    inbox stream's ``max_age``: an older notification is gone from the inbox anyway."""
    unread_max: int = Field(default=5_000, ge=1, le=10_000)
    """Unread notifications tracked per user (oldest dropped beyond it: they count as read).
    Bounds the per-user read-state record (one KV value, under NATS' 1 MiB payload)."""
    read_state_ttl_s: int = Field(default=DAY_S, ge=1)
    """``Nats-TTL`` of the read-state messages put on the inbox for the user's other devices."""
    list_limit: int = Field(default=50, ge=1)
    list_max: int = Field(default=500, ge=1)
    cas_attempts: int = Field(default=20, ge=1)
    """Compare-and-set retries on a user's read state under concurrent writers."""
