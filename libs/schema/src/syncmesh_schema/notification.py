"""Notification service models: the send request and the stored notification."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, model_validator

from .base import ClientInput, JSONValue, WireModel
from .codes import ErrorCode
from .events import NotificationData, Priority
from .ids import Room


class NotificationSend(ClientInput):
    """Body of ``POST /v1/notifications``: to ``user_ids`` or every member of ``room``."""

    user_ids: (
        Annotated[
            list[Annotated[str, Field(min_length=1, max_length=256)]], Field(max_length=10_000)
        ]
        | None
    ) = None
    room: Room | None = None
    kind: Annotated[str, Field(min_length=1, max_length=64)]
    title: Annotated[str, Field(max_length=512)]
    body: Annotated[str, Field(max_length=16_384)] = ""
    data: JSONValue = None
    link: Annotated[str, Field(max_length=2048)] | None = None
    priority: Priority = "normal"
    ttl_s: Annotated[int, Field(ge=1, le=365 * 24 * 3600)] | None = None
    id: Annotated[str, Field(min_length=1, max_length=128)] | None = None

    @model_validator(mode="after")
    def _one_target(self) -> NotificationSend:
        if (self.user_ids is None) == (self.room is None):
            raise ValueError("give exactly one of user_ids or room")
        return self


class Notification(NotificationData):
    """A stored notification: the pushed fields plus its owner and expiry."""

    user_id: str
    expires_at: int | None = None


READ_STATE_KIND = "read_state"
"""``kind`` of the read-state message the notification service stores on a user's inbox
subject whenever the user's read state changes, so every connected device of that user
learns the new unread count: it arrives as an ordinary ``notification`` event on ``inbox``
whose ``data`` is a :class:`ReadStateData`."""


class ReadStateData(WireModel):
    """``data`` of a :data:`READ_STATE_KIND` notification."""

    unread: int
    ids: list[str] = Field(default_factory=list)
    """Notification ids newly read (or deleted, see ``deleted``)."""
    all: bool = False
    """Everything up to this message was marked read."""
    deleted: bool = False


class NotificationReadRequest(WireModel):
    """Gateway → notification service on ``sm.notification.read`` (core request/reply)."""

    user_id: str
    ids: list[str] = Field(default_factory=list)
    all: bool = False


class NotificationReadReply(WireModel):
    """The answer to :class:`NotificationReadRequest`: the unread count after marking, or an
    error code of ``codes.py`` with a message."""

    unread: int | None = None
    error_code: ErrorCode | None = None
    error_message: str | None = None


class InboxEntry(WireModel):
    """One unread notification in :class:`InboxState`."""

    id: str
    seq: int
    expires_at: int | None = None


class InboxState(WireModel):
    """A user's read state, KV ``sm_inbox_state`` key ``state.<user>`` (compare-and-set):
    the unread notifications, oldest first (bounded by the service), and counters."""

    unread: list[InboxEntry] = Field(default_factory=list)
    read_total: int = 0
    expired_total: int = 0


class SeenRecord(WireModel):
    """Dedup record, KV ``sm_inbox_state`` key ``seen.<user>.<id>``: where it was stored."""

    seq: int
    created_at: int
    expires_at: int | None = None


class NotificationSendReply(WireModel):
    """Answer of ``POST /v1/notifications``: the notification id per recipient (the same id
    for every recipient of one send), in the order of ``user_ids``."""

    ids: list[str]
    user_ids: list[str] = Field(default_factory=list)
    duplicates: int = 0
    """Recipients that already had this id (stored and delivered once, not again)."""
    detail: str | None = None


class NotificationsReadBody(ClientInput):
    """Body of ``POST /v1/notifications/read`` (the HTTP twin of ``notifications_read``)."""

    ids: Annotated[list[Annotated[str, Field(max_length=256)]], Field(max_length=10_000)] = Field(
        default_factory=list
    )
    all: bool = False


class NotificationItem(NotificationData):
    """One notification in a listing, with its position (the ``after`` of the next page)."""

    seq: int
    expires_at: int | None = None


class NotificationPage(WireModel):
    """``GET /v1/notifications``: oldest first; ``next`` is the ``after`` of the next page."""

    items: list[NotificationItem]
    next: int | None = None
    unread: int
