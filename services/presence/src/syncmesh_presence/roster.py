"""Rooms and their members in memory: connections collapse to one member per user. Pure.

The presence service feeds every change of a ``conn.*`` key into :class:`Roster`; each call
returns the :class:`Change` (``join`` / ``status`` / ``leave``) it causes, if any. A user whose
last connection goes is *leaving*: still listed (``connections`` 0) until
:meth:`Roster.expire_leaving` is called after the grace period, so a reconnect within it
changes nothing. Each member keeps its ``Member`` JSON cached, so a page of
``presence_state`` is a join of bytes, never a scan of the bucket.
"""

from __future__ import annotations

import heapq
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Literal

from syncmesh_schema.client import Member, MemberStatus
from syncmesh_schema.events import PresenceEventData
from syncmesh_schema.presence import PresenceConnection

ChangeKind = Literal["join", "leave", "status"]


@dataclass(frozen=True, slots=True)
class Change:
    """An event to publish; ``ident`` makes its ``Nats-Msg-Id`` (equal on every instance)."""

    kind: ChangeKind
    room: str
    member: PresenceEventData
    ident: str


@dataclass(slots=True)
class MemberState:
    user_id: str
    conns: dict[str, PresenceConnection] = field(default_factory=dict)
    status: MemberStatus = "online"
    meta: dict[str, Any] = field(default_factory=dict)
    last_seen: int = 0
    leave_at: float | None = None
    """Monotonic time after which the user leaves (set while no connection is left)."""
    leave_rev: int = 0
    join_rev: int = 0
    json: bytes = b""

    def view(self, idle_after_ms: int | None, now_ms: int) -> tuple[MemberStatus, dict[str, Any]]:
        """Status and meta of the most recent change; ``online`` turns ``away`` when every
        connection was silent for ``idle_after_ms``."""
        latest = max(self.conns.values(), key=lambda c: (c.changed_at, c.connection_id))
        status: MemberStatus = "away" if latest.status == "offline" else latest.status
        if (
            idle_after_ms is not None
            and status == "online"
            and now_ms - self.active_at() >= idle_after_ms
        ):
            status = "away"
        return status, latest.meta

    def active_at(self) -> int:
        return max(c.active_at for c in self.conns.values())

    def data(self, status: MemberStatus | Literal["offline"] | None = None) -> PresenceEventData:
        return PresenceEventData(
            user_id=self.user_id,
            status=status or self.status,
            meta=self.meta,
            connections=len(self.conns),
        )

    def refresh_json(self) -> None:
        self.json = Member(
            user_id=self.user_id,
            status=self.status,
            meta=self.meta,
            connections=len(self.conns),
            last_seen=self.last_seen,
        ).to_json_bytes()


@dataclass(slots=True)
class Room:
    name: str
    members: dict[str, MemberState] = field(default_factory=dict)
    idle_after_s: int | None = None
    page_cache: tuple[int, list[bytes]] | None = None
    version: int = 0

    @property
    def idle_after_ms(self) -> int | None:
        return None if self.idle_after_s is None else self.idle_after_s * 1000

    def member_jsons(self) -> list[bytes]:
        """Every member's cached JSON, in a stable order (rebuilt once per change)."""
        if self.page_cache is None or self.page_cache[0] != self.version:
            self.page_cache = (self.version, [m.json for m in self.members.values()])
        return self.page_cache[1]


class Roster:
    """All rooms; see the module docstring."""

    def __init__(self, grace_s: float, last_seen_kept: int = 100_000) -> None:
        self.grace_s = grace_s
        self.rooms: dict[str, Room] = {}
        self.idle_config: dict[str, int | None] = {}
        self.last_seen: OrderedDict[tuple[str, str], int] = OrderedDict()
        self.last_seen_kept = last_seen_kept
        self._leaving: list[tuple[float, str, str, int]] = []

    # --- queries -----------------------------------------------------------------------

    def room(self, name: str) -> Room | None:
        return self.rooms.get(name)

    def member_count(self) -> int:
        return sum(len(r.members) for r in self.rooms.values())

    def seen(self, room: str, user_id: str) -> int | None:
        """``last_seen`` of a present member or of one that left (bounded memory)."""
        r = self.rooms.get(room)
        if r is not None and user_id in r.members:
            return r.members[user_id].last_seen
        return self.last_seen.get((room, user_id))

    # --- changes -----------------------------------------------------------------------

    def put(self, conn: PresenceConnection, rev: int, now: float, now_ms: int) -> Change | None:
        """A connection key was written (join, change, activity or heartbeat)."""
        room = self.rooms.get(conn.room)
        if room is None:
            idle = self.idle_config.get(conn.room)
            room = self.rooms[conn.room] = Room(conn.room, idle_after_s=idle)
        member = room.members.get(conn.user_id)
        fresh = member is None
        if member is None:
            member = room.members[conn.user_id] = MemberState(conn.user_id, join_rev=rev)
        before = (member.status, member.meta, len(member.conns))
        member.conns[conn.connection_id] = conn
        member.leave_at = None
        member.last_seen = max(member.last_seen, conn.active_at, conn.changed_at)
        member.status, member.meta = member.view(room.idle_after_ms, now_ms)
        member.refresh_json()
        room.version += 1
        ident = f"{conn.room}:{conn.user_id}"
        if fresh:
            return Change("join", conn.room, member.data(), f"{ident}:join:{rev}")
        if (member.status, member.meta) != before[:2]:
            return Change("status", conn.room, member.data(), f"{ident}:status:{rev}")
        return None

    def remove(
        self, room_name: str, user_id: str, connection_id: str, rev: int, now: float, now_ms: int
    ) -> Change | None:
        """A connection key was purged, deleted or expired."""
        room = self.rooms.get(room_name)
        member = room.members.get(user_id) if room else None
        if room is None or member is None or connection_id not in member.conns:
            return None
        del member.conns[connection_id]
        room.version += 1
        if not member.conns:
            member.leave_at = now + self.grace_s
            member.leave_rev = rev
            heapq.heappush(self._leaving, (member.leave_at, room_name, user_id, rev))
            member.refresh_json()
            return None
        before = (member.status, member.meta)
        member.status, member.meta = member.view(room.idle_after_ms, now_ms)
        member.refresh_json()
        if (member.status, member.meta) != before:
            ident = f"{room_name}:{user_id}:status:{rev}"
            return Change("status", room_name, member.data(), ident)
        return None

    def expire_leaving(self, now: float) -> list[Change]:
        """``leave`` for every user whose grace period is over and who did not come back."""
        changes: list[Change] = []
        while self._leaving and self._leaving[0][0] <= now:
            _, room_name, user_id, rev = heapq.heappop(self._leaving)
            room = self.rooms.get(room_name)
            member = room.members.get(user_id) if room else None
            if room is None or member is None or member.conns or member.leave_rev != rev:
                continue  # came back (or a later leave is pending)
            del room.members[user_id]
            room.version += 1
            self._remember(room_name, user_id, member.last_seen)
            changes.append(
                Change(
                    "leave",
                    room_name,
                    member.data("offline"),
                    f"{room_name}:{user_id}:leave:{rev}",
                )
            )
            if not room.members:
                del self.rooms[room_name]
        return changes

    def next_leave_at(self) -> float | None:
        return self._leaving[0][0] if self._leaving else None

    def set_idle(self, room_name: str, idle_after_s: int | None, now_ms: int) -> list[Change]:
        """Apply a room's idle setting; the status changes it causes at once."""
        self.idle_config[room_name] = idle_after_s
        room = self.rooms.get(room_name)
        if room is None:
            return []
        room.idle_after_s = idle_after_s
        return self.sweep_room(room, now_ms)

    def sweep_idle(self, now_ms: int) -> list[Change]:
        """Status changes from idle detection in every room that has it on."""
        changes: list[Change] = []
        for name, idle in list(self.idle_config.items()):
            room = self.rooms.get(name)
            if idle is not None and room is not None:
                changes.extend(self.sweep_room(room, now_ms))
        return changes

    def sweep_room(self, room: Room, now_ms: int) -> list[Change]:
        changes: list[Change] = []
        for member in room.members.values():
            if not member.conns:
                continue
            status, _ = member.view(room.idle_after_ms, now_ms)
            if status != member.status:
                member.status = status
                member.refresh_json()
                room.version += 1
                ident = f"{room.name}:{member.user_id}:{status}:idle:{member.active_at()}"
                changes.append(Change("status", room.name, member.data(), ident))
        return changes

    def _remember(self, room: str, user_id: str, last_seen: int) -> None:
        self.last_seen[(room, user_id)] = last_seen
        self.last_seen.move_to_end((room, user_id))
        while len(self.last_seen) > self.last_seen_kept:
            self.last_seen.popitem(last=False)
