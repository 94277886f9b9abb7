"""FastStream ``NatsBroker`` factory and connection helpers.

The broker is built in ``create_app`` and connected in the lifespan, never at import. It
reconnects forever (``max_reconnect_attempts=-1``): a NATS restart must not need a service
restart.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

import nats.errors
from faststream.nats import NatsBroker
from faststream.nats.prometheus import NatsPrometheusMiddleware
from nats.aio.client import Client
from prometheus_client import CollectorRegistry

from .settings import NatsSettings

log = logging.getLogger(__name__)


def make_broker(
    settings: NatsSettings,
    *,
    name: str,
    registry: CollectorRegistry | None = None,
    middlewares: Sequence[Any] = (),
) -> NatsBroker:
    """A broker for one service process; metrics go to ``registry`` when given."""
    mws: list[Any] = list(middlewares)
    if registry is not None:
        mws.append(NatsPrometheusMiddleware(registry=registry, app_name=name))

    async def on_disconnect() -> None:
        log.warning("disconnected from NATS; reconnecting")

    async def on_reconnect() -> None:
        log.info("reconnected to NATS")

    async def on_error(exc: Exception) -> None:
        log.debug("NATS client error: %r", exc)

    return NatsBroker(
        servers=settings.servers,
        name=name,
        connect_timeout=int(max(1, settings.connect_timeout_s)),
        # nats-py accepts float seconds though FastStream annotates int.
        reconnect_time_wait=settings.reconnect_wait_s,  # type: ignore[arg-type]
        max_reconnect_attempts=-1,
        ping_interval=5,
        max_outstanding_pings=2,
        disconnected_cb=on_disconnect,
        reconnected_cb=on_reconnect,
        error_cb=on_error,
        middlewares=mws,
        graceful_timeout=10.0,
        logger=log,
        log_level=logging.DEBUG,
    )


async def connect_with_retry(broker: NatsBroker, *, max_wait_s: float = 5.0) -> Client:
    """Connect, retrying with capped backoff until NATS answers (start-up order must not
    matter: a service started before NATS simply waits, reporting not-ready)."""
    delay = 0.2
    attempt = 0
    while True:
        attempt += 1
        try:
            await broker.connect()
            return broker.connection
        except (OSError, TimeoutError, nats.errors.Error) as exc:
            if attempt == 1 or attempt % 10 == 0:
                log.warning("waiting for NATS (attempt %d): %s", attempt, exc or type(exc).__name__)
            await asyncio.sleep(delay)
            delay = min(delay * 2, max_wait_s)
