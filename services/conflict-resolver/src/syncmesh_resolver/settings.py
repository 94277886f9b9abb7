"""Conflict resolver settings: environment variables ``SYNCMESH_RESOLVER_*`` (nested with ``__``,
e.g. ``SYNCMESH_RESOLVER_HTTP__PORT``), falling back to the shared ``SYNCMESH_*``."""

from __future__ import annotations

from typing import ClassVar

from pydantic_settings import SettingsConfigDict

from syncmesh_kit.settings import HttpSettings, ServiceSettings


class ResolverSettings(ServiceSettings):
    model_config = SettingsConfigDict(
        env_prefix="SYNCMESH_RESOLVER_", env_nested_delimiter="__", extra="ignore"
    )

    service_name: ClassVar[str] = "resolver"

    http: HttpSettings = HttpSettings(port=8002)
