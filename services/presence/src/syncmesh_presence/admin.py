"""``/admin/*`` of the presence service (behind the admin guard, see ``app.py``)."""

from __future__ import annotations

from fastapi import APIRouter

from syncmesh_kit.streams_admin import streams_routes

router = APIRouter(tags=["admin"])
router.include_router(streams_routes())
