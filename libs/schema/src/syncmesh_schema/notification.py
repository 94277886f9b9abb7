"""Notification service models: the send request and the stored notification."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, model_validator

from .base import ClientInput, JSONValue
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
