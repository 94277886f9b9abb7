"""Gateway settings: environment variables ``SYNCMESH_GATEWAY_*`` (nested with ``__``,
e.g. ``SYNCMESH_GATEWAY_HTTP__PORT``), falling back to the shared ``SYNCMESH_*``."""

from __future__ import annotations

from typing import ClassVar

from pydantic_settings import SettingsConfigDict

from syncmesh_kit.settings import HttpSettings, ServiceSettings


class GatewaySettings(ServiceSettings):
    model_config = SettingsConfigDict(
        env_prefix="SYNCMESH_GATEWAY_", env_nested_delimiter="__", extra="ignore"
    )

    service_name: ClassVar[str] = "gateway"

    http: HttpSettings = HttpSettings(port=8000)
