"""Conflict resolver settings: environment variables ``SYNCMESH_RESOLVER_*`` (nested with ``__``,
e.g. ``SYNCMESH_RESOLVER_HTTP__PORT``), falling back to the shared ``SYNCMESH_*``."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from syncmesh_kit.settings import HttpSettings, ServiceSettings


class ResolverSettings(ServiceSettings):
    model_config = SettingsConfigDict(
        env_prefix="SYNCMESH_RESOLVER_", env_nested_delimiter="__", extra="ignore"
    )

    service_name: ClassVar[str] = "resolver"

    http: HttpSettings = HttpSettings(port=8002)
    settle_timeout_s: float = Field(default=30.0, gt=0, le=600)
    """How long settling a conflict with mine/custom waits for sync to answer the new
    mutation before replying ``unavailable`` (the mutation stays queued; retrying is safe)."""
    history_limit: int = Field(default=50, ge=1, le=10_000)
    """Records ``GET /admin/history`` returns when no ``limit`` is given."""
    history_max: int = Field(default=1000, ge=1, le=100_000)
    """The largest ``limit`` ``GET /admin/history`` accepts."""
