"""Presence subscribers (thin: validate → domain → publish)."""

from __future__ import annotations

from typing import Annotated

from faststream import Context
from faststream.nats import NatsRouter

from syncmesh_kit.info import info_subscribers
from syncmesh_schema import subjects
from syncmesh_schema.presence import PresenceStateRequest

from . import SERVICE
from .service import PresenceService

router = NatsRouter()
router.include_router(info_subscribers(SERVICE))


@router.subscriber(subjects.PRESENCE_STATE, queue=subjects.PRESENCE_QUEUE)
async def presence_state(
    body: PresenceStateRequest,
    presence: Annotated[PresenceService, Context("presence")],
) -> bytes:
    """One page of a room's members (``PresenceStateReply`` JSON)."""
    return presence.state_page(body)
