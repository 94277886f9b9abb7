"""Presence settings: environment variables ``SYNCMESH_PRESENCE_*`` (nested with ``__``,
e.g. ``SYNCMESH_PRESENCE_HTTP__PORT``), falling back to the shared ``SYNCMESH_*``."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from syncmesh_kit.settings import HttpSettings, ServiceSettings


class PresenceSettings(ServiceSettings):
    model_config = SettingsConfigDict(
        env_prefix="SYNCMESH_PRESENCE_", env_nested_delimiter="__", extra="ignore"
    )

    service_name: ClassVar[str] = "presence"

    http: HttpSettings = HttpSettings(port=8003)
    leave_grace_s: float = Field(default=5.0, ge=0, le=10)
    """A user's last connection must stay gone this long before ``leave`` (absorbs reconnects)."""
    idle_check_s: float = Field(default=1.0, gt=0, le=60)
    """How often rooms with idle detection on are checked for members turning ``away``."""
    last_seen_kept: int = Field(default=100_000, ge=0)
    """``last_seen`` of users who left, kept in memory (oldest dropped first)."""
    state_page_bytes: int = Field(default=512 * 1024, ge=4096, le=900 * 1024)
    """Largest ``presence_state`` reply page (NATS max_payload is 1 MiB by default)."""
