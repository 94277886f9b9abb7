"""Notification subscribers (thin: validate → domain → publish).

``sm.notification.read`` is core request/reply in the ``notification`` queue group, taking
the raw message so a malformed request still gets an error answer.
"""

from __future__ import annotations

from typing import Annotated

from faststream import Context
from faststream.nats import NatsRouter
from faststream.nats.annotations import NatsMessage

from syncmesh_kit.info import info_subscribers
from syncmesh_schema import subjects
from syncmesh_schema.notification import NotificationReadReply

from . import SERVICE
from .service import NotificationService

READ_WORKERS = 16

router = NatsRouter()
router.include_router(info_subscribers(SERVICE))


@router.subscriber(
    subjects.NOTIFICATION_READ, queue=subjects.NOTIFICATION_QUEUE, max_workers=READ_WORKERS
)
async def read(
    message: NatsMessage, service: Annotated[NotificationService, Context("notifications")]
) -> NotificationReadReply:
    """``NotificationReadRequest`` from the gateway → ``NotificationReadReply``."""
    return await service.read_request(message.body)
