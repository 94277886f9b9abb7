"""Presence bus messages: what gateways report, what the presence service publishes."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from .base import JSONObject, WireModel
from .client import Member, PresenceStatus
from .events import PresenceEventData


class PresenceReport(WireModel):
    """Gateway → presence: one connection's state in one room (also sent as heartbeat)."""

    gateway_id: str
    connection_id: str
    user_id: str
    room: str
    status: PresenceStatus
    meta: JSONObject = Field(default_factory=dict)
    ts: int


class PresenceEvent(WireModel):
    """Stored on ``sm.presence.<room>`` and pushed as an ``event`` of this ``kind``."""

    kind: Literal["join", "leave", "status"]
    room: str
    member: PresenceEventData
    ts: int


# --- gateway ↔ presence contract (issue 6) ----------------------------------------------
#
# Gateways write one KV key per (connection, room) straight into ``sm_presence``:
# ``conn.<room>.<user_token>.<connection_id>`` (``subjects.presence_conn_key``) holding a
# :class:`PresenceConnection`, published raw to ``$KV.sm_presence.<key>`` with header
# ``Nats-TTL: PRESENCE_TTL_S``. They rewrite it on join, status/meta change, activity after a
# quiet spell (at most every ``PRESENCE_ACTIVITY_WRITE_S``) and as a heartbeat every
# ``PRESENCE_HEARTBEAT_S``; they purge it (``KV-Operation: PURGE``, ``Nats-Rollup: sub``,
# ``Nats-TTL: PRESENCE_TOMBSTONE_TTL_S``) on ``offline`` and on connection close. A crashed
# gateway stops heartbeating, so its keys expire and the bucket's limit markers tell the
# presence service. The presence service only reads ``conn.>`` / ``config.>`` and writes
# ``member.<room>.<user_token>`` (one per present user, for the notification service).

PRESENCE_HEARTBEAT_S = 10
"""Gateways rewrite every connection key at least this often."""
PRESENCE_TTL_S = 20
"""``Nats-TTL`` of a connection key (whole seconds): two heartbeats. A crashed gateway's users
leave within ``PRESENCE_TTL_S`` + the presence service's leave grace (≤ 30 s, PROTOCOL.md)."""
PRESENCE_ACTIVITY_WRITE_S = 5
"""On client activity a gateway rewrites the key at once when the ``active_at`` it last wrote
is at least this old (so ``away`` turns back to ``online`` within a moment)."""
PRESENCE_TOMBSTONE_TTL_S = 60
"""``Nats-TTL`` of the purge marker a gateway writes on close (the tombstone then vanishes)."""


class PresenceConnection(PresenceReport):
    """The value of ``conn.<room>.<user_token>.<connection_id>`` in ``sm_presence``, written by
    the gateway that holds the connection. ``status`` is never ``offline`` (that is a purge).

    ``ts`` is the time of this write; ``changed_at`` the last status/meta change by the client
    (decides which connection's status the member shows); ``active_at`` the last frame the
    client sent (idle detection)."""

    changed_at: int
    active_at: int


class RoomPresenceConfig(WireModel):
    """Per-room presence settings (KV key ``config.<room>`` of ``sm_presence``, no TTL; set
    through the presence admin API). ``idle_after_s`` ``None`` = idle detection off: else a
    member whose connections were all silent that long shows ``away`` until activity."""

    room: str
    idle_after_s: int | None = Field(default=None, ge=1, le=86_400)


class PresenceStateRequest(WireModel):
    """Gateway → presence (core request/reply on ``sm.presence-state``, queue group
    ``presence``): one page of a room's members, from ``offset``."""

    room: str
    user_id: str
    offset: int = Field(default=0, ge=0)


class PresenceStateReply(WireModel):
    """One page (≤ ~512 KiB of JSON) of the members in a stable order; the gateway asks again
    from ``next_offset`` until it is ``None`` and sends one ``presence`` frame with all of
    them. Members in the leave grace period are listed with ``connections`` 0."""

    room: str
    members: list[Member]
    offset: int = 0
    next_offset: int | None = None
    total: int
