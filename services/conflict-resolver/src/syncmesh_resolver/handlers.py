"""Conflict resolver subscribers (thin: validate → domain → publish)."""

from __future__ import annotations

from faststream.nats import NatsRouter

from syncmesh_kit.info import info_subscribers

from . import SERVICE

router = NatsRouter()
router.include_router(info_subscribers(SERVICE))
