"""Channel names (PROTOCOL.md §2) and their parsed form.

=========================  ==============================================
``doc:<collection>/<id>``  every committed change of one document
``collection:<name>``      every committed change in a collection
``room:<room>``            messages published by clients to the room
``presence:<room>``        join / leave / status events of the room
``inbox``                  the authenticated user's notifications
=========================  ==============================================
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator

from .base import WireModel
from .ids import validate_id

ChannelKind = Literal["doc", "collection", "room", "presence", "inbox"]


class ChannelRef(WireModel):
    """A parsed channel name."""

    kind: ChannelKind
    collection: str | None = None
    doc_id: str | None = None
    room: str | None = None

    @property
    def name(self) -> str:
        """The channel's wire name."""
        if self.kind == "doc":
            return f"doc:{self.collection}/{self.doc_id}"
        if self.kind == "collection":
            return f"collection:{self.collection}"
        if self.kind in ("room", "presence"):
            return f"{self.kind}:{self.room}"
        return "inbox"


def parse_channel(name: str) -> ChannelRef:
    """Parse a channel name; ``ValueError`` with a clear message when it is not one."""
    if name == "inbox":
        return ChannelRef(kind="inbox")
    prefix, sep, rest = name.partition(":")
    if not sep:
        raise ValueError(
            f"unknown channel {name!r:.80}: expected doc:<collection>/<doc_id>, "
            "collection:<name>, room:<room>, presence:<room> or inbox"
        )
    if prefix == "doc":
        collection, slash, doc_id = rest.partition("/")
        if not slash:
            raise ValueError(f"doc channel must be doc:<collection>/<doc_id> (got {name!r:.80})")
        return ChannelRef(
            kind="doc",
            collection=validate_id(collection, "collection"),
            doc_id=validate_id(doc_id, "doc_id"),
        )
    if prefix == "collection":
        return ChannelRef(kind="collection", collection=validate_id(rest, "collection"))
    if prefix == "room":
        return ChannelRef(kind="room", room=validate_id(rest, "room"))
    if prefix == "presence":
        return ChannelRef(kind="presence", room=validate_id(rest, "room"))
    raise ValueError(
        f"unknown channel type {prefix!r:.40}: expected doc, collection, room, presence or inbox"
    )


def _check_channel(name: str) -> str:
    parse_channel(name)
    return name


def _check_room_channel(name: str) -> str:
    if parse_channel(name).kind != "room":
        raise ValueError(f"only room:<room> channels accept publish (got {name!r:.80})")
    return name


Channel = Annotated[str, AfterValidator(_check_channel)]
RoomChannel = Annotated[str, AfterValidator(_check_room_channel)]
