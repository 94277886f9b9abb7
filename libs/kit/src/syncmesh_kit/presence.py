"""The gateway side of the presence contract: what a gateway writes so the presence service
can derive members and events. Used by the gateway, and by the presence tests and bench as a
stand-in for one. What it does, per (connection, room), is the whole contract (see
``syncmesh_schema.presence``):

* join / status or meta change: write ``conn.<room>.<user_token>.<connection_id>`` with
  ``Nats-TTL`` = ``ttl_s`` (``changed_at`` = ``active_at`` = now);
* activity: remember ``active_at``; write at once when the written one is ≥
  ``PRESENCE_ACTIVITY_WRITE_S`` old;
* heartbeat every ``PRESENCE_HEARTBEAT_S``: rewrite every key (refreshes the TTL);
* ``offline`` / close: purge the key (marker with ``Nats-TTL`` = ``PRESENCE_TOMBSTONE_TTL_S``).

Writes of one reporter are serialised, so a heartbeat never resurrects a key just purged.
Extend it by adding methods that write the same keys; never read presence back with ``get``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

from nats.js import JetStreamContext

from syncmesh_schema import subjects as s
from syncmesh_schema.client import MemberStatus
from syncmesh_schema.presence import (
    PRESENCE_ACTIVITY_WRITE_S,
    PRESENCE_HEARTBEAT_S,
    PRESENCE_TOMBSTONE_TTL_S,
    PRESENCE_TTL_S,
    PresenceConnection,
)


def _now_ms() -> int:
    return int(time.time() * 1000)


class PresenceReporter:
    """One gateway process's presence writer; see the module docstring."""

    def __init__(
        self,
        js: JetStreamContext,
        gateway_id: str,
        *,
        ttl_s: int = PRESENCE_TTL_S,
        heartbeat_s: float = PRESENCE_HEARTBEAT_S,
    ) -> None:
        self.js = js
        self.gateway_id = gateway_id
        self.ttl_s = ttl_s
        self.heartbeat_s = heartbeat_s
        self.conns: dict[tuple[str, str], PresenceConnection] = {}
        self._active: dict[tuple[str, str], int] = {}
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None

    async def report(
        self,
        connection_id: str,
        user_id: str,
        room: str,
        status: MemberStatus | str,
        meta: dict[str, Any] | None = None,
        *,
        wait: bool = True,
    ) -> None:
        """A ``presence`` frame (``offline`` = leave)."""
        if status == "offline":
            await self.leave(connection_id, room)
            return
        now = _now_ms()
        conn = PresenceConnection(
            gateway_id=self.gateway_id,
            connection_id=connection_id,
            user_id=user_id,
            room=room,
            status=status,  # type: ignore[arg-type]  # checked by PresenceConnection
            meta=meta or {},
            ts=now,
            changed_at=now,
            active_at=now,
        )
        async with self._lock:
            self.conns[(room, connection_id)] = conn
            self._active[(room, connection_id)] = now
            await self._write(conn, wait=wait)

    async def activity(self, connection_id: str, room: str) -> None:
        """The client sent a frame: rewrite at once only when the written activity is old."""
        now = _now_ms()
        async with self._lock:
            conn = self.conns.get((room, connection_id))
            if conn is None:
                return
            self._active[(room, connection_id)] = now
            if now - conn.active_at >= PRESENCE_ACTIVITY_WRITE_S * 1000:
                conn = conn.model_copy(update={"active_at": now, "ts": now})
                self.conns[(room, connection_id)] = conn
                await self._write(conn)

    def rooms_of(self, connection_id: str) -> list[str]:
        """Rooms in which this connection is present."""
        return [room for room, conn_id in self.conns if conn_id == connection_id]

    async def leave(self, connection_id: str, room: str) -> None:
        """``offline`` or connection closed."""
        async with self._lock:
            conn = self.conns.pop((room, connection_id), None)
            self._active.pop((room, connection_id), None)
            if conn is None:
                return
            key = s.presence_conn_key(room, conn.user_id, connection_id)
            await self.js.publish(
                f"$KV.{s.PRESENCE_BUCKET}.{key}",
                b"",
                headers={"KV-Operation": "PURGE", "Nats-Rollup": "sub"},
                msg_ttl=PRESENCE_TOMBSTONE_TTL_S,
            )

    async def heartbeat(self) -> None:
        """Rewrite every key (new ``ts``, latest ``active_at``, fresh TTL)."""
        async with self._lock:
            now = _now_ms()
            for ref, conn in list(self.conns.items()):
                fresh = conn.model_copy(update={"ts": now, "active_at": self._active[ref]})
                self.conns[ref] = fresh
                await self._write(fresh, wait=False)
        await self.flush()

    def start(self) -> PresenceReporter:
        self._task = asyncio.create_task(self._beat(), name=f"presence-{self.gateway_id}")
        return self

    async def stop(self, *, crash: bool = False) -> None:
        """Stop heartbeating; a clean stop also purges every key, ``crash`` leaves them to
        expire (what ``kill -9`` of a gateway does)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if not crash:
            for room, connection_id in list(self.conns):
                await self.leave(connection_id, room)

    async def flush(self) -> None:
        await self.js.publish_async_completed()

    async def _beat(self) -> None:
        while True:
            await asyncio.sleep(self.heartbeat_s)
            await self.heartbeat()

    async def _write(self, conn: PresenceConnection, *, wait: bool = True) -> None:
        key = s.presence_conn_key(conn.room, conn.user_id, conn.connection_id)
        subject = f"$KV.{s.PRESENCE_BUCKET}.{key}"
        if wait:
            await self.js.publish(subject, conn.to_json_bytes(), msg_ttl=self.ttl_s)
        else:
            await self.js.publish_async(subject, conn.to_json_bytes(), msg_ttl=self.ttl_s)
