"""Room messages (``publish`` to ``room:<r>``), stored on ``sm.room.<room>``."""

from __future__ import annotations

from typing import ClassVar

from .base import JSONValue, WireModel


class RoomMessage(WireModel):
    room: str
    user_id: str
    data: JSONValue
    ts: int

    keep_none: ClassVar[frozenset[str]] = frozenset({"data"})
