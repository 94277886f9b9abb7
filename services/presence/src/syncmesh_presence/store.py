"""JetStream access of the presence service: watch ``sm_presence``, publish events, keep the
``member.<room>.<user>`` keys and the room configs. Small named operations; no rules."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import PubAck
from nats.js.kv import KV_DEL, KV_PURGE, KeyValue

from syncmesh_schema import subjects as s
from syncmesh_schema.ids import user_from_token
from syncmesh_schema.presence import PRESENCE_TOMBSTONE_TTL_S, PresenceEvent, RoomPresenceConfig

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class KeyChange:
    """One update seen by a watcher: ``value`` ``None`` = deleted, purged or expired."""

    key: str
    value: bytes | None
    revision: int


INITIAL_DONE = KeyChange("", None, 0)
"""Marks the end of the initial values of a watch."""


class PresenceStore:
    def __init__(self, nc: Client, js: JetStreamContext, kv: KeyValue) -> None:
        self.nc = nc
        self.js = js
        self.kv = kv
        self._acks: set[asyncio.Future[PubAck]] = set()

    @classmethod
    async def open(cls, nc: Client, js: JetStreamContext) -> PresenceStore:
        return cls(nc, js, await js.key_value(s.PRESENCE_BUCKET))

    async def watch(self, keys: str) -> AsyncIterator[KeyChange]:
        """Current values, then :data:`INITIAL_DONE`, then every change, forever."""
        watcher = await self.kv.watch(keys)
        try:
            async for entry in watcher:
                if entry is None:
                    yield INITIAL_DONE
                    continue
                gone = entry.operation in (KV_DEL, KV_PURGE) or not entry.value
                yield KeyChange(entry.key, None if gone else entry.value, entry.revision or 0)
        finally:
            await watcher.stop()  # type: ignore[no-untyped-call]  # nats-py: unannotated

    async def publish_event(self, event: PresenceEvent, msg_id: str) -> None:
        """Publish without waiting for the ack (order kept on the connection); the
        deterministic ``Nats-Msg-Id`` drops the copies other instances publish."""
        fut = await self.js.publish_async(
            s.presence(event.room), event.to_json_bytes(), headers={"Nats-Msg-Id": msg_id}
        )
        self._acks.add(fut)
        fut.add_done_callback(self._settled)

    def _settled(self, fut: asyncio.Future[PubAck]) -> None:
        self._acks.discard(fut)
        if not fut.cancelled() and fut.exception() is not None:
            log.warning("presence event not stored: %r", fut.exception())

    async def flush(self) -> None:
        if self._acks:
            await asyncio.gather(*list(self._acks), return_exceptions=True)

    async def mark_member(self, room: str, user_id: str, present: bool) -> None:
        """Write or purge ``member.<room>.<user>`` (read by the notification service)."""
        key = s.presence_member_key(room, user_id)
        subject = f"$KV.{s.PRESENCE_BUCKET}.{key}"
        if present:
            payload = json.dumps({"user_id": user_id}).encode()
            fut = await self.js.publish_async(subject, payload)
        else:
            headers = {"KV-Operation": "PURGE", "Nats-Rollup": "sub"}
            fut = await self.js.publish_async(
                subject, b"", headers=headers, msg_ttl=PRESENCE_TOMBSTONE_TTL_S
            )
        self._acks.add(fut)
        fut.add_done_callback(self._settled)

    async def member_keys(self) -> dict[tuple[str, str], int]:
        """Every ``(room, user)`` with a ``member.*`` key now → the key's revision."""
        out: dict[tuple[str, str], int] = {}
        watcher = await self.kv.watch("member.>", ignore_deletes=True, meta_only=True)
        try:
            async for entry in watcher:
                if entry is None:
                    break
                _, room, token = entry.key.split(".", 2)
                out[(room, user_from_token(token))] = entry.revision or 0
        finally:
            await watcher.stop()  # type: ignore[no-untyped-call]  # nats-py: unannotated
        return out

    async def save_config(self, config: RoomPresenceConfig) -> None:
        await self.kv.put(s.presence_config_key(config.room), config.to_json_bytes())
