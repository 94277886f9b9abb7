"""The ``data`` of each pushed ``event`` kind (PROTOCOL.md §3, server pushes)."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from .base import JSONObject, JSONValue, WireModel
from .client import MemberStatus
from .mutations import ConflictInfo, MutationKind


class MutationMeta(WireModel):
    """Which mutation produced a change."""

    client_id: str
    mutation_id: int
    user_id: str
    kind: MutationKind


class ChangeData(WireModel):
    """``change`` on ``doc:`` / ``collection:``: the whole document after the change."""

    collection: str
    doc_id: str
    version: int
    deleted: bool
    data: JSONObject | None
    mutation: MutationMeta
    conflict: ConflictInfo | None = None

    keep_none: ClassVar[frozenset[str]] = frozenset({"data"})


class MessageData(WireModel):
    """``message`` on ``room:``."""

    user_id: str
    data: JSONValue

    keep_none: ClassVar[frozenset[str]] = frozenset({"data"})


class PresenceEventData(WireModel):
    """``join`` / ``leave`` / ``status`` on ``presence:``."""

    user_id: str
    status: MemberStatus | Literal["offline"]
    meta: JSONObject = Field(default_factory=dict)
    connections: int


Priority = Literal["low", "normal", "high"]


class NotificationData(WireModel):
    """``notification`` on ``inbox``."""

    id: str
    kind: str
    title: str
    body: str = ""
    data: JSONValue = None
    link: str | None = None
    priority: Priority = "normal"
    created_at: int
    read: bool = False
