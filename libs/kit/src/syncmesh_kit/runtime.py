"""The live parts of one service process, composed in ``create_app`` (not a base class).

:class:`ServiceRuntime` owns the broker, the metrics registry, the readiness checks and the
token verifier, and provides the FastAPI lifespan: connect to NATS (retrying until it is
there), ensure the JetStream topology, run the service's start hooks, start the FastStream
subscribers. ``/healthz`` answers from the first moment; ``/readyz`` turns green when all of
that is done and NATS is reachable, and red again whenever it is not.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from fastapi import FastAPI
from faststream.nats import NatsBroker
from nats.aio.client import Client
from nats.js import JetStreamContext
from prometheus_client import CollectorRegistry, Gauge

from syncmesh_schema.service import ServiceInfo

from .auth import TokenVerifier
from .broker import connect_with_retry, make_broker
from .health import Readiness
from .httpauth import admin_dependency
from .jetstream import ensure_topology
from .settings import ServiceSettings

log = logging.getLogger(__name__)

Hook = Callable[["ServiceRuntime"], Awaitable[None]]


def package_version(distribution: str) -> str:
    try:
        return version(distribution)
    except PackageNotFoundError:
        return "0.0.0+unknown"


class ServiceRuntime:
    """Everything live in one service process; see the module docstring."""

    def __init__(
        self,
        settings: ServiceSettings,
        *,
        service: str,
        distribution: str,
        consumes: list[str],
        publishes: list[str],
    ) -> None:
        self.settings = settings
        self.service = service
        self.version = package_version(distribution)
        self.consumes = consumes
        self.publishes = publishes
        self.started_at = time.time()
        self.registry = CollectorRegistry()
        Gauge(
            "syncmesh_build_info", "Build metadata", ["service", "version"], registry=self.registry
        ).labels(service, self.version).set(1)
        self.broker: NatsBroker = make_broker(
            settings.nats, name=f"syncmesh-{service}-{settings.instance_id}", registry=self.registry
        )
        self.broker.context.set_global("runtime", self)
        self.verifier = TokenVerifier(
            settings.jwt_secret.get_secret_value(), settings.jwt_public_keys
        )
        self.require_admin = admin_dependency(
            self.verifier,
            settings.admin_token.get_secret_value() if settings.admin_token else None,
        )
        self.readiness = Readiness()
        self.readiness.add("nats", self._check_nats)
        self.readiness.add("jetstream", self._check_jetstream)
        self.readiness.add("subscribers", self._check_started)
        self.on_start: list[Hook] = []
        self.on_stop: list[Hook] = []
        self.draining = False
        self._started = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._nc: Client | None = None
        self._js: JetStreamContext | None = None

    # --- live clients ------------------------------------------------------------------

    @property
    def nc(self) -> Client:
        """The NATS connection (only after it was first established)."""
        if self._nc is None:
            raise RuntimeError(f"{self.service} is not connected to NATS yet")
        return self._nc

    @property
    def js(self) -> JetStreamContext:
        if self._js is None:
            self._js = self.nc.jetstream(timeout=self.settings.nats.request_timeout_s)
        return self._js

    @property
    def ready(self) -> bool:
        return self._started.is_set()

    async def wait_started(self) -> None:
        """Until connected, bootstrapped and subscribed (wrap in ``asyncio.timeout``)."""
        await self._started.wait()

    # --- readiness checks --------------------------------------------------------------

    async def _check_nats(self) -> None:
        if self._nc is None:
            raise RuntimeError("not connected yet")
        if not self._nc.is_connected:
            raise RuntimeError("disconnected (reconnecting)")

    async def _check_jetstream(self) -> None:
        if self._nc is None or not self._nc.is_connected:
            raise RuntimeError("no NATS connection")
        await self._nc.jetstream(timeout=1.0).account_info()

    async def _check_started(self) -> None:
        if self.draining:
            raise RuntimeError("draining")
        if not self._started.is_set():
            raise RuntimeError("starting")

    # --- lifecycle ---------------------------------------------------------------------

    async def _start(self) -> None:
        self._nc = await connect_with_retry(self.broker)
        url = self._nc.connected_url
        log.info("connected to NATS at %s", url.netloc if url else "?")
        delay = 0.5
        while True:
            try:
                nats = self.settings.nats
                report = await ensure_topology(self.js, nats.replicas, nats.dedup_window_s)
                if not report.ok:
                    log.error(
                        "JetStream topology has streams that could not be updated: %s",
                        report.changes,
                    )
                break
            except Exception as exc:  # JetStream may lag the connection (cluster election)
                log.warning("JetStream not ready (%s); retrying in %.1fs", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
        for hook in self.on_start:
            await hook(self)
        await self.broker.start()
        self._started.set()
        log.info("%s ready (instance %s)", self.service, self.settings.instance_id)

    @asynccontextmanager
    async def lifespan(self, app: FastAPI) -> AsyncIterator[dict[str, Any]]:
        """FastAPI lifespan: start in the background, stop cleanly."""
        self._task = asyncio.create_task(self._start(), name=f"{self.service}-start")
        self._task.add_done_callback(self._log_start_failure)
        try:
            yield {"runtime": self}
        finally:
            self.draining = True
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            for hook in reversed(self.on_stop):
                try:
                    await hook(self)
                except Exception:
                    log.exception("stop hook failed")
            if self._nc is not None:
                try:
                    await asyncio.wait_for(self.broker.stop(), 10)
                except Exception as exc:  # a dead NATS must not block shutdown
                    log.warning("broker stop: %r", exc)
            log.info("%s stopped", self.service)

    @staticmethod
    def _log_start_failure(task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            log.error("start-up failed", exc_info=task.exception())

    # --- self-description --------------------------------------------------------------

    def info(self) -> ServiceInfo:
        http = self.settings.http
        return ServiceInfo(
            service=self.service,
            instance=self.settings.instance_id,
            version=self.version,
            started_at=int(self.started_at * 1000),
            uptime_s=round(time.time() - self.started_at, 3),
            consumes=self.consumes,
            publishes=self.publishes,
            admin_url=f"http://{http.host}:{http.port}/admin",
        )
