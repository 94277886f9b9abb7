"""The live part of the presence service: watch ``sm_presence``, keep the roster, publish
events. Started and stopped by the runtime's hooks.

Every instance watches the whole bucket and keeps the whole roster (any of them answers
``presence_state``), and every instance publishes the events it derives. The copies are
dropped by JetStream dedup: an event's ``Nats-Msg-Id`` is ``<room>:<user>:<kind>:<KV
revision that caused it>`` (idle changes: the member's ``active_at``), which every instance
computes alike because they read the same bucket in the same order. Only a reconnect that
lands within a few milliseconds of the grace deadline can be judged differently by two
instances (one sees nothing, the other ``leave`` then ``join``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from pydantic import ValidationError

from syncmesh_kit.runtime import ServiceRuntime
from syncmesh_schema import subjects as s
from syncmesh_schema.client import Member
from syncmesh_schema.events import PresenceEventData
from syncmesh_schema.ids import user_from_token
from syncmesh_schema.presence import (
    PresenceConnection,
    PresenceEvent,
    PresenceStateReply,
    PresenceStateRequest,
    RoomPresenceConfig,
)

from .roster import Change, Roster
from .settings import PresenceSettings
from .stats import Stats
from .store import INITIAL_DONE, KeyChange, PresenceStore

log = logging.getLogger(__name__)


def now_ms() -> int:
    return int(time.time() * 1000)


class PresenceService:
    def __init__(self, settings: PresenceSettings, runtime: ServiceRuntime) -> None:
        self.settings = settings
        self.roster = Roster(settings.leave_grace_s, settings.last_seen_kept)
        self.stats = Stats(runtime.registry, self.roster)
        self.store: PresenceStore | None = None
        self.synced = asyncio.Event()
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        runtime.on_start.append(self.start)
        runtime.on_stop.append(self.stop)
        runtime.readiness.add("roster", self._check_synced)
        runtime.broker.context.set_global("presence", self)

    async def _check_synced(self) -> None:
        if not self.synced.is_set():
            raise RuntimeError("loading the presence bucket")

    async def start(self, runtime: ServiceRuntime) -> None:
        self.store = store = await PresenceStore.open(runtime.nc, runtime.js)
        configs_loaded = asyncio.Event()
        self._tasks = [
            asyncio.create_task(
                self._watch_configs(store, configs_loaded), name="presence-configs"
            ),
        ]
        await configs_loaded.wait()
        self._tasks += [
            asyncio.create_task(self._watch_conns(store), name="presence-conns"),
            asyncio.create_task(self._timers(), name="presence-timers"),
        ]

    async def stop(self, runtime: ServiceRuntime) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.store is not None:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(2):
                    await self.store.flush()

    # --- watchers ----------------------------------------------------------------------

    async def _watch_configs(self, store: PresenceStore, loaded: asyncio.Event) -> None:
        async for change in store.watch(s.PRESENCE_CONFIGS):
            if change is INITIAL_DONE:
                loaded.set()
                continue
            room = change.key.removeprefix("config.")
            idle: int | None = None
            if change.value is not None:
                try:
                    idle = RoomPresenceConfig.model_validate_json(change.value).idle_after_s
                except ValidationError:
                    log.warning("ignoring unreadable presence config of %r", room)
            await self._emit(self.roster.set_idle(room, idle, now_ms()))

    async def _watch_conns(self, store: PresenceStore) -> None:
        async for change in store.watch(s.PRESENCE_CONNS):
            if change is INITIAL_DONE:
                if not self.synced.is_set():
                    await self._reconcile_member_keys(store)
                    self.synced.set()
                continue
            applied = self._apply(change)
            if self.synced.is_set():  # the initial values are the state, not news
                await self._emit_one(applied)

    def _apply(self, change: KeyChange) -> Change | None:
        parts = change.key.split(".")
        if len(parts) != 4:
            return None
        _, room, token, connection_id = parts
        try:
            user_id = user_from_token(token)
        except ValueError:
            return None
        now = time.monotonic()
        if change.value is not None:
            try:
                conn = PresenceConnection.model_validate_json(change.value)
            except ValidationError:
                log.warning("ignoring unreadable connection key %r", change.key)
                return None
            if conn.status != "offline":
                return self.roster.put(conn, change.revision, now, now_ms())
        change_ = self.roster.remove(room, user_id, connection_id, change.revision, now, now_ms())
        self._wake.set()
        return change_

    async def _reconcile_member_keys(self, store: PresenceStore) -> None:
        """After the initial load (whose changes are the state, not news): ``leave`` for a
        ``member.*`` key without connections (they went while no instance ran), ``join`` for
        a present user without one; the keys follow."""
        keys = await store.member_keys()
        changes: list[Change] = []
        for room in self.roster.rooms.values():
            for user, member in room.members.items():
                if (room.name, user) not in keys:
                    ident = f"{room.name}:{user}:join:{member.join_rev}"
                    changes.append(Change("join", room.name, member.data(), ident))
        for (room_name, user), rev in keys.items():
            r = self.roster.room(room_name)
            if r is None or user not in r.members:
                data = PresenceEventData(user_id=user, status="offline", connections=0)
                changes.append(Change("leave", room_name, data, f"{room_name}:{user}:leave:m{rev}"))
        await self._emit(changes)

    async def _timers(self) -> None:
        """Debounced leaves when their grace is over; idle sweeps."""
        next_idle = 0.0
        while True:
            now = time.monotonic()
            await self._emit(self.roster.expire_leaving(now))
            if now >= next_idle:
                await self._emit(self.roster.sweep_idle(now_ms()))
                next_idle = now + self.settings.idle_check_s
            wake = min(next_idle, self.roster.next_leave_at() or next_idle)
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(max(wake - time.monotonic(), 0.0) + 0.01):
                    await self._wake.wait()

    # --- publishing --------------------------------------------------------------------

    async def _emit(self, changes: list[Change]) -> None:
        for change in changes:
            await self._emit_one(change)

    async def _emit_one(self, change: Change | None) -> None:
        if change is None or self.store is None:
            return
        event = PresenceEvent(kind=change.kind, room=change.room, member=change.member, ts=now_ms())
        await self.store.publish_event(event, change.ident)
        self.stats.add(change.kind)
        if change.kind != "status":
            await self.store.mark_member(change.room, change.member.user_id, change.kind == "join")

    # --- queries -----------------------------------------------------------------------

    def state_page(self, request: PresenceStateRequest) -> bytes:
        """One page of ``PresenceStateReply`` JSON, built from cached member JSON."""
        room = self.roster.room(request.room)
        jsons = room.member_jsons() if room else []
        budget = self.settings.state_page_bytes
        end = request.offset
        size = 0
        while end < len(jsons) and (size + len(jsons[end]) + 1 <= budget or end == request.offset):
            size += len(jsons[end]) + 1
            end += 1
        head = PresenceStateReply(
            room=request.room,
            members=[],
            offset=request.offset,
            next_offset=end if end < len(jsons) else None,
            total=len(jsons),
        ).to_json_bytes()
        members = b"[" + b",".join(jsons[request.offset : end]) + b"]"
        return head.replace(b'"members":[]', b'"members":' + members, 1)

    def members(self, room: str) -> list[Member]:
        r = self.roster.room(room)
        if r is None:
            return []
        return [Member.model_validate_json(j) for j in r.member_jsons()]
