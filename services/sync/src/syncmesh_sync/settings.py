"""Sync settings: environment variables ``SYNCMESH_SYNC_*`` (nested with ``__``, e.g.
``SYNCMESH_SYNC_HTTP__PORT``), falling back to the shared ``SYNCMESH_*``."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from syncmesh_kit.settings import HttpSettings, ServiceSettings


class SyncSettings(ServiceSettings):
    model_config = SettingsConfigDict(
        env_prefix="SYNCMESH_SYNC_", env_nested_delimiter="__", extra="ignore"
    )

    service_name: ClassVar[str] = "sync"

    http: HttpSettings = HttpSettings(port=8001)
    max_in_flight: int = Field(default=512, ge=1, le=10_000)
    """Unsettled intake messages held by this process at most."""
    fetch_batch: int = Field(default=256, ge=1, le=1000)
    max_deliver: int = Field(default=200, ge=2)
    ahead_wait_s: float = Field(default=5.0, ge=0)
    """How long a mutation ahead of its turn waits in-process for the one before it."""
    ahead_deliveries: int = Field(default=20, ge=1)
    """How often a mutation ahead of ``last + 1`` is put back (waiting for the one before it)
    before it is refused with ``out_of_order``."""
    """Deliveries before a failing mutation goes to the dead-letter subject."""
    cache_size: int = Field(default=20_000, ge=0)
    """Documents and client records kept in memory (LRU)."""
    results_kept: int = Field(default=16, ge=1, le=1000)
    """Outcomes kept inside each client record (all are also stored as result keys)."""
    result_ttl_s: float = Field(default=30 * 24 * 3600, ge=60)
    """How long every outcome stays answerable to a late retry."""
    resolver_timeout_s: float = Field(default=5.0, gt=0)
    cas_retries: int = Field(default=25, ge=1)
