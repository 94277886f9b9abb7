"""``/admin/*`` of the gateway service (behind the admin guard, see ``app.py``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from syncmesh_kit.streams_admin import streams_routes

from .gateway import Gateway


def admin_routes(gateway: Gateway) -> APIRouter:
    router = APIRouter(tags=["admin"])
    router.include_router(streams_routes())

    @router.get("/connections", summary="Open connections and subscribers per channel")
    async def connections() -> dict[str, Any]:
        return gateway.stats()

    return router
