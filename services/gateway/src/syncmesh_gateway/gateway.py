"""The gateway's live parts, composed once per process: store, hubs, subscriptions, intake,
the client ledger, connections and metrics. Started and stopped by the runtime's hooks."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter

from syncmesh_kit.presence import PresenceReporter
from syncmesh_kit.runtime import ServiceRuntime
from syncmesh_schema.codes import CloseCode

from .clients import ClientLedger
from .connection import Peer
from .hubs import Hubs
from .intake import Intake
from .metrics import GatewayMetrics
from .sessions import Session
from .settings import GatewaySettings
from .store import Store
from .subscriptions import Subscriptions

log = logging.getLogger(__name__)


class Gateway:
    def __init__(self, settings: GatewaySettings, runtime: ServiceRuntime) -> None:
        self.settings = settings
        self.runtime = runtime
        self.metrics = GatewayMetrics(runtime.registry)
        self.ledger = ClientLedger()
        self.connections: set[Peer] = set()
        self.draining = False
        self._store: Store | None = None
        self._hubs: Hubs | None = None
        self._subscriptions: Subscriptions | None = None
        self._intake: Intake | None = None
        self._presence: PresenceReporter | None = None
        runtime.on_start.append(self._start)
        runtime.on_stop.append(self._stop)

    @property
    def ready(self) -> bool:
        return self._intake is not None and self.runtime.ready and not self.draining

    @property
    def store(self) -> Store:
        assert self._store is not None, "gateway not started"
        return self._store

    @property
    def hubs(self) -> Hubs:
        assert self._hubs is not None, "gateway not started"
        return self._hubs

    @property
    def subscriptions(self) -> Subscriptions:
        assert self._subscriptions is not None, "gateway not started"
        return self._subscriptions

    @property
    def presence(self) -> PresenceReporter:
        assert self._presence is not None, "gateway not started"
        return self._presence

    async def left(self, session: Session) -> None:
        """A connection closed: it leaves every room it announced itself in."""
        if self._presence is None:
            return
        for room in list(session.presence_rooms):
            try:
                await self._presence.leave(session.session_id, room)
            except Exception as exc:  # NATS down: the key expires by itself (TTL)
                log.warning("presence leave of %s failed: %r", room, exc)
        session.presence_rooms.clear()

    @property
    def intake(self) -> Intake:
        assert self._intake is not None, "gateway not started"
        return self._intake

    async def _start(self, runtime: ServiceRuntime) -> None:
        timeout = self.settings.nats.request_timeout_s
        self._store = await Store.open(runtime.nc, runtime.js, timeout)
        self._hubs = Hubs(self._store, self.settings, self.metrics)
        self._subscriptions = Subscriptions(self._hubs, self._store, self.settings)
        intake = Intake(self._store, self.ledger, self.settings, self.settings.instance_id)
        await intake.start()
        self._intake = intake
        # Connection presence with heartbeats: a crashed gateway's keys expire by themselves.
        self._presence = PresenceReporter(
            runtime.js,
            self.settings.instance_id,
            ttl_s=self.settings.presence_ttl_s,
            heartbeat_s=self.settings.presence_heartbeat_s,
        ).start()

    async def _stop(self, runtime: ServiceRuntime) -> None:
        await self.drain()
        if self._presence is not None:
            await self._presence.stop()
        if self._intake is not None:
            await self._intake.stop()
        if self._hubs is not None:
            await self._hubs.stop()

    async def drain(self) -> None:
        """Stop accepting and close every connection with 4000, in batches, so clients
        reconnect elsewhere without all arriving at once."""
        self.draining = True
        conns = list(self.connections)
        if conns:
            log.info("closing %d connections with 4000", len(conns))
        step = self.settings.drain_batch
        for i in range(0, len(conns), step):
            batch = conns[i : i + step]
            for conn in batch:
                conn.close(CloseCode.SERVER_GOING_AWAY, "server going away: reconnect")
            await asyncio.wait(
                [asyncio.create_task(c.closed.wait()) for c in batch],
                timeout=self.settings.close_timeout_s,
            )
            if self.settings.drain_pause_s:
                await asyncio.sleep(self.settings.drain_pause_s)

    def stats(self) -> dict[str, object]:
        by_user = Counter(c.session.user_id for c in self.connections if c.session)
        return {
            "count": len(self.connections),
            "by_transport": dict(Counter(c.transport for c in self.connections)),
            "users": len(by_user),
            "channels": self.hubs.subscribers_by_channel() if self._hubs else {},
            "queued_bytes": sum(c.queued_bytes for c in self.connections),
            "mutations_in_flight": self._intake.in_flight if self._intake else 0,
        }
