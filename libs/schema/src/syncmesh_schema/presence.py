"""Presence bus messages: what gateways report, what the presence service publishes."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from .base import JSONObject, WireModel
from .client import PresenceStatus
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
