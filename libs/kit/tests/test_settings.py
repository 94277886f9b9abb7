"""Service settings: own prefix, shared fallback, production refuses the dev secret."""

from __future__ import annotations

from typing import ClassVar

import pytest
from pydantic import ValidationError
from pydantic_settings import SettingsConfigDict

from syncmesh_kit.settings import DEV_JWT_SECRET, HttpSettings, ServiceSettings


class DemoSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SYNCMESH_DEMO_", env_nested_delimiter="__")
    service_name: ClassVar[str] = "demo"
    http: HttpSettings = HttpSettings(port=8009)


def test_defaults(monkeypatch):
    for var in ("SYNCMESH_NATS__URL", "SYNCMESH_JWT_SECRET", "SYNCMESH_DEMO_HTTP__PORT"):
        monkeypatch.delenv(var, raising=False)
    s = DemoSettings()
    assert s.http.port == 8009
    assert s.nats.servers == ["nats://127.0.0.1:4222"]
    assert s.uses_dev_secret


def test_shared_prefix_and_service_prefix_wins(monkeypatch):
    monkeypatch.setenv("SYNCMESH_NATS__URL", "nats://a:1, nats://b:2")
    monkeypatch.setenv("SYNCMESH_JWT_SECRET", "s" * 40)
    monkeypatch.setenv("SYNCMESH_DEMO_HTTP__PORT", "9100")
    s = DemoSettings()
    assert s.nats.servers == ["nats://a:1", "nats://b:2"]
    assert s.jwt_secret.get_secret_value() == "s" * 40
    assert s.http.port == 9100
    monkeypatch.setenv("SYNCMESH_DEMO_NATS__URL", "nats://own:3")
    assert DemoSettings().nats.servers == ["nats://own:3"]


def test_production_refuses_the_dev_secret(monkeypatch):
    monkeypatch.setenv("SYNCMESH_DEMO_ENVIRONMENT", "production")
    monkeypatch.delenv("SYNCMESH_JWT_SECRET", raising=False)
    with pytest.raises(ValidationError, match="development JWT secret"):
        DemoSettings()
    monkeypatch.setenv("SYNCMESH_JWT_SECRET", "short")
    with pytest.raises(ValidationError, match="at least 32 bytes"):
        DemoSettings()
    monkeypatch.setenv("SYNCMESH_JWT_SECRET", "x" * 32)
    assert DemoSettings().environment == "production"
    assert DEV_JWT_SECRET == "dev-secret-change-me"
