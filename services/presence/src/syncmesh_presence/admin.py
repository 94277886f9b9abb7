"""``/admin/*`` of the presence service (behind the admin guard, see ``app.py``): rooms,
members, counts, statistics and per-room idle detection."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, HTTPException

from syncmesh_kit.streams_admin import streams_routes
from syncmesh_schema.client import Member
from syncmesh_schema.ids import validate_id
from syncmesh_schema.presence import RoomPresenceConfig

from .service import PresenceService


def _room(room: str) -> str:
    try:
        return validate_id(room, "room")
    except ValueError as exc:
        raise HTTPException(400, detail={"code": "bad_request", "message": str(exc)}) from None


def admin_routes(service: PresenceService) -> APIRouter:
    router = APIRouter(tags=["admin"])
    router.include_router(streams_routes())

    @router.get("/rooms", summary="Rooms with members, and their member counts")
    async def rooms() -> dict[str, Any]:
        roster = service.roster
        return {
            "rooms": {
                name: {"members": len(r.members), "idle_after_s": r.idle_after_s}
                for name, r in roster.rooms.items()
            },
            "count": len(roster.rooms),
            "members": roster.member_count(),
        }

    @router.get("/rooms/{room}/members", summary="A room's members (connections collapsed)")
    async def members(room: str) -> list[Member]:
        return service.members(_room(room))

    @router.get(
        "/rooms/{room}/members/{user_id}/last-seen",
        summary="When a present or departed member was last seen (ms)",
    )
    async def last_seen(room: str, user_id: str) -> dict[str, Any]:
        seen = service.roster.seen(_room(room), user_id)
        if seen is None:
            raise HTTPException(404, detail={"code": "not_found", "message": "never seen"})
        return {"room": room, "user_id": user_id, "last_seen": seen}

    @router.get("/rooms/{room}/config", summary="A room's presence config (idle detection)")
    async def get_config(room: str) -> RoomPresenceConfig:
        name = _room(room)
        return RoomPresenceConfig(room=name, idle_after_s=service.roster.idle_config.get(name))

    @router.put("/rooms/{room}/config", summary="Set a room's presence config (all instances)")
    async def put_config(room: str, config: RoomPresenceConfig = Body(...)) -> RoomPresenceConfig:  # noqa: B008
        if config.room != _room(room):
            raise HTTPException(
                400, detail={"code": "bad_request", "message": "config.room must match the URL"}
            )
        if service.store is None:
            raise HTTPException(
                503, detail={"code": "unavailable", "message": "not connected to NATS yet"}
            )
        await service.store.save_config(config)
        return config

    @router.get("/stats", summary="Rooms, members, events and joins/leaves per second")
    async def stats() -> dict[str, object]:
        roster = service.roster
        return {
            "rooms": len(roster.rooms),
            "members": roster.member_count(),
            **service.stats.snapshot(),
        }

    return router
