"""Settings parts shared by every service.

Each service declares one ``BaseSettings`` subclass of :class:`ServiceSettings` with its own
``env_prefix`` (``SYNCMESH_SYNC_``, ``SYNCMESH_GATEWAY_`` …) and nested parts separated by
``__`` (``SYNCMESH_SYNC_NATS__URL``). Values shared by the whole stack can be given once with
the plain ``SYNCMESH_`` prefix (``SYNCMESH_NATS__URL``, ``SYNCMESH_JWT_SECRET``); a
service-prefixed variable wins over the shared one.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import ClassVar, Literal

from pydantic import BaseModel, Field, SecretStr, model_validator
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

DEV_JWT_SECRET = "dev-secret-change-me"
SHARED_ENV_PREFIX = "SYNCMESH_"


class NatsSettings(BaseModel):
    """How to reach NATS. ``url`` may list several servers separated by commas."""

    url: str = "nats://127.0.0.1:4222"
    connect_timeout_s: float = 2.0
    reconnect_wait_s: float = 0.5
    request_timeout_s: float = 10.0
    """Publish/request timeout: must outlast a cluster leader failover (~7 s)."""
    replicas: int = Field(default=1, ge=1, le=5)
    """JetStream replicas for the streams this stack creates (3 in a cluster)."""
    dedup_window_s: float = Field(default=120.0, ge=0.1, le=3600)
    """JetStream ``Nats-Msg-Id`` window of the streams (a first filter only: exactly-once
    does not depend on it). Tests shorten it."""

    @property
    def servers(self) -> list[str]:
        return [u.strip() for u in self.url.split(",") if u.strip()]


class HttpSettings(BaseModel):
    """Where the service's HTTP API listens."""

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)


class LogSettings(BaseModel):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    format: Literal["auto", "json", "text"] = "auto"
    """``auto``: readable text on a terminal, JSON lines otherwise (containers)."""


class ServiceSettings(BaseSettings):
    """Knobs every service has; subclasses add their own and set ``env_prefix``."""

    model_config = SettingsConfigDict(env_nested_delimiter="__", extra="ignore")

    service_name: ClassVar[str] = "service"

    environment: Literal["development", "production"] = "development"
    instance_id: str = Field(
        default_factory=lambda: uuid.uuid4().hex[:12], pattern=r"^[A-Za-z0-9_-]{1,64}$"
    )
    nats: NatsSettings = NatsSettings()
    http: HttpSettings = HttpSettings()
    log: LogSettings = LogSettings()
    jwt_secret: SecretStr = SecretStr(DEV_JWT_SECRET)
    """HS256 secret (development). Production may use ``jwt_public_keys`` instead."""
    jwt_public_keys: list[Path] = Field(default_factory=list)
    """PEM files of RS256/ES256 public keys accepted for tokens."""
    admin_token: SecretStr | None = None
    """Static bearer token accepted on ``/admin`` and admin-only endpoints (besides admin JWTs)."""

    @model_validator(mode="after")
    def _no_dev_secret_in_production(self) -> ServiceSettings:
        if self.environment != "production":
            return self
        secret = self.jwt_secret.get_secret_value()
        if secret == DEV_JWT_SECRET:
            raise ValueError(
                "refusing to start in production with the development JWT secret: set "
                "SYNCMESH_JWT_SECRET to a long random value (or configure jwt_public_keys)"
            )
        if secret and len(secret.encode()) < 32:
            raise ValueError("SYNCMESH_JWT_SECRET must be at least 32 bytes in production")
        return self

    @property
    def uses_dev_secret(self) -> bool:
        return self.jwt_secret.get_secret_value() == DEV_JWT_SECRET

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        shared = EnvSettingsSource(
            settings_cls, env_prefix=SHARED_ENV_PREFIX, env_nested_delimiter="__"
        )
        return init_settings, env_settings, shared, dotenv_settings, file_secret_settings
