"""Stored stream messages → ``event`` frames, per channel kind. Pure.

=============  ===========================  ======================================
channel        stored payload               ``event``
=============  ===========================  ======================================
``doc:``       ``DocumentRecord`` (KV)       ``change`` + :class:`ChangeData`
``collection:``  ``DocumentRecord`` (KV)     ``change`` + :class:`ChangeData`
``room:``      ``RoomMessage``              ``message`` + :class:`MessageData`
``presence:``  ``PresenceEvent``            its ``kind`` + the member
``inbox``      ``Notification``             ``notification`` + :class:`NotificationData`
=============  ===========================  ======================================
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from pydantic import ValidationError

from syncmesh_schema.channels import ChannelKind
from syncmesh_schema.client import DocSnapshot, Event
from syncmesh_schema.events import ChangeData, MessageData, NotificationData
from syncmesh_schema.notification import Notification
from syncmesh_schema.presence import PresenceEvent
from syncmesh_schema.rooms import RoomMessage
from syncmesh_schema.sync import DocumentRecord

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class StoredMsg:
    """One message of a stream, from a live feed or from history."""

    seq: int
    subject: str
    data: bytes
    prev_seq: int | None = None
    """Previous sequence on the same subject (``Nats-Last-Sequence`` of a republish)."""


def event_for(kind: ChannelKind, channel: str, msg: StoredMsg, cursor: str) -> Event | None:
    """The ``event`` frame for ``msg``, or ``None`` for messages that are not events (KV
    delete markers, expired placeholders, payloads that do not parse)."""
    if not msg.data:
        return None
    try:
        if kind in ("doc", "collection"):
            record = DocumentRecord.model_validate_json(msg.data)
            return Event(
                channel=channel,
                cursor=cursor,
                kind="change",
                data=change_data(record).dump(),
                ts=record.updated_at,
            )
        if kind == "room":
            message = RoomMessage.model_validate_json(msg.data)
            data = MessageData(user_id=message.user_id, data=message.data)
            return Event(
                channel=channel, cursor=cursor, kind="message", data=data.dump(), ts=message.ts
            )
        if kind == "presence":
            presence = PresenceEvent.model_validate_json(msg.data)
            return Event(
                channel=channel,
                cursor=cursor,
                kind=presence.kind,
                data=presence.member.dump(),
                ts=presence.ts,
            )
        note = Notification.model_validate_json(msg.data)
        data_n = NotificationData.model_validate(note.model_dump())
        return Event(
            channel=channel,
            cursor=cursor,
            kind="notification",
            data=data_n.dump(),
            ts=note.created_at,
        )
    except ValidationError as exc:
        log.warning("skipping unreadable message %d on %s: %s", msg.seq, msg.subject, exc)
        return None


def change_data(record: DocumentRecord) -> ChangeData:
    return ChangeData(
        collection=record.collection,
        doc_id=record.doc_id,
        version=record.version,
        deleted=record.deleted,
        data=None if record.deleted else record.data,
        mutation=record.mutation,
        conflict=record.conflict,
    )


def snapshot_of(collection: str, doc_id: str, record: DocumentRecord | None) -> DocSnapshot:
    """The snapshot of a document; version 0 when it never existed."""
    if record is None:
        return DocSnapshot(collection=collection, doc_id=doc_id, version=0, data=None)
    return DocSnapshot(
        collection=collection,
        doc_id=doc_id,
        version=record.version,
        data=None if record.deleted else record.data,
        deleted=record.deleted,
    )
