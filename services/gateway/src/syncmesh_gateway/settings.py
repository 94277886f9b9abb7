"""Gateway settings: environment variables ``SYNCMESH_GATEWAY_*`` (nested with ``__``,
e.g. ``SYNCMESH_GATEWAY_HTTP__PORT``), falling back to the shared ``SYNCMESH_*``."""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, Field
from pydantic_settings import SettingsConfigDict

from syncmesh_kit.settings import HttpSettings, ServiceSettings
from syncmesh_schema.presence import PRESENCE_HEARTBEAT_S, PRESENCE_TTL_S


class RateSettings(BaseModel):
    """A token bucket: ``rate_per_s`` tokens refill per second, at most ``burst`` saved up."""

    rate_per_s: float = Field(gt=0)
    burst: float = Field(gt=0)


class GatewaySettings(ServiceSettings):
    model_config = SettingsConfigDict(
        env_prefix="SYNCMESH_GATEWAY_", env_nested_delimiter="__", extra="ignore"
    )

    service_name: ClassVar[str] = "gateway"

    http: HttpSettings = HttpSettings(port=8000)

    # --- connections -------------------------------------------------------------------
    hello_timeout_s: float = Field(default=10.0, gt=0)
    """The first frame must be a valid ``hello`` within this time, else close 4001."""
    heartbeat_ms: int = Field(default=25_000, ge=100)
    """WebSocket ping interval; a peer that answers none of two pings is closed."""
    max_frame_bytes: int = Field(default=65_536, ge=1024)
    """Client frames above this get ``too_large`` (the connection stays usable)."""
    ws_max_message_bytes: int = Field(default=1024 * 1024, ge=1024)
    """WebSocket messages above this are refused by the server with close 1009."""
    send_queue_bytes: int = Field(default=1024 * 1024, ge=1024)
    """Bytes queued for one connection at most; beyond it the client is closed with 4008."""
    batch_max_bytes: int = Field(default=64 * 1024, ge=1024)
    """With ``hello.batch``, frames joined into one WebSocket message up to this size."""
    close_timeout_s: float = Field(default=5.0, gt=0)
    drain_batch: int = Field(default=500, ge=1)
    """Connections closed with 4000 per step of a graceful shutdown."""
    drain_pause_s: float = Field(default=0.05, ge=0)
    allowed_origins: list[str] | None = None
    """Browser ``Origin`` values allowed on ``/v1/ws`` (globs); ``None`` = any (development)."""

    # --- SSE and long-poll -------------------------------------------------------------
    sse_ping_s: float = Field(default=15.0, gt=0, le=15.0)
    """An SSE stream carries a ``: ping`` comment at least this often (PROTOCOL.md §3)."""
    sse_retry_ms: int = Field(default=3000, ge=0)
    """The ``retry:`` field of an SSE stream: the browser's reconnect delay."""
    poll_max_timeout_s: float = Field(default=60.0, gt=0)
    """A long-poll waits at most this long (a larger ``timeout`` is cut to it)."""
    stream_max_channels: int = Field(default=100, ge=1)
    """Channels per SSE stream or long-poll request (more: 400)."""

    # --- limits ------------------------------------------------------------------------
    frame_rate: RateSettings = RateSettings(rate_per_s=200, burst=400)
    """Client frames per connection (and HTTP commands per user)."""
    publish_rate: RateSettings = RateSettings(rate_per_s=50, burst=100)
    """``publish`` frames per connection."""
    rate_limit_close_after: int = Field(default=50, ge=1)
    """Frames refused with ``rate_limited`` within ``rate_limit_window_s`` before close 4029."""
    rate_limit_window_s: float = Field(default=10.0, gt=0)
    room_message_max_bytes: int = Field(default=32 * 1024, ge=16)
    """Size of the JSON ``data`` of one ``publish``."""
    mutations_max_count: int = Field(default=1000, ge=1)
    mutations_max_bytes: int = Field(default=4 * 1024 * 1024, ge=1024)

    # --- mutations and replay ----------------------------------------------------------
    mutation_timeout_s: float = Field(default=30.0, gt=0)
    """How long a ``mutate`` waits for its outcome before ``unavailable`` (retry is safe)."""
    replay_max_events: int = Field(default=10_000, ge=1)
    """Missed events replayed on resume at most; more → ``recovered: false``."""
    replay_batch: int = Field(default=256, ge=1, le=1000)
    """Messages per batched Direct Get while replaying."""
    presence_ttl_s: int = Field(default=PRESENCE_TTL_S, ge=2, le=300)
    """Lifetime of a connection's presence key without a heartbeat (a crashed gateway's
    users leave this long + the presence service's grace after the crash)."""
    presence_heartbeat_s: float = Field(default=PRESENCE_HEARTBEAT_S, gt=0, le=150)
    """How often every present connection's key is rewritten (must be well under the TTL)."""
