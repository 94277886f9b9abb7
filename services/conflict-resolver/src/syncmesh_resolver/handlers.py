"""Conflict resolver subscribers (thin: validate → domain → publish).

Both are core request/reply in the ``resolver`` queue group, so any number of resolver
processes share the load. They take the raw message and validate it in the service: a
FastStream parse failure would leave the requester without any reply, while a malformed
request must get an error answer. Workers per process are fixed here (the router is built
at import): resolving is CPU-light and short; settling waits for sync's answer.
"""

from __future__ import annotations

from typing import Annotated

from faststream import Context
from faststream.nats import NatsRouter
from faststream.nats.annotations import NatsMessage

from syncmesh_kit.info import info_subscribers
from syncmesh_schema import subjects
from syncmesh_schema.conflict import ConflictResolveReply, ResolveError, ResolveReply

from . import SERVICE
from .service import ResolverService

RESOLVE_WORKERS = 32
SETTLE_WORKERS = 16

router = NatsRouter()
router.include_router(info_subscribers(SERVICE))


@router.subscriber(subjects.RESOLVE, queue=subjects.RESOLVER_QUEUE, max_workers=RESOLVE_WORKERS)
async def resolve(
    message: NatsMessage, service: Annotated[ResolverService, Context("resolver")]
) -> ResolveReply | ResolveError:
    """``ResolveRequest`` from sync → ``ResolveReply`` (or ``ResolveError``)."""
    return await service.resolve(message.body)


@router.subscriber(
    subjects.CONFLICT_RESOLVE, queue=subjects.RESOLVER_QUEUE, max_workers=SETTLE_WORKERS
)
async def settle(
    message: NatsMessage, service: Annotated[ResolverService, Context("resolver")]
) -> ConflictResolveReply:
    """``ConflictResolveRequest`` from the gateway → ``ConflictResolveReply``."""
    return await service.settle_request(message.body)
