"""``/admin/*`` of the notification service (behind the admin guard, see ``app.py``):
counters and per-user backlog."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query

from syncmesh_kit.streams_admin import streams_routes
from syncmesh_schema.codes import HTTP_STATUS_BY_ERROR

from . import inbox
from .errors import NotificationError
from .service import NotificationService, jetstream, now_ms


def _error(exc: NotificationError) -> HTTPException:
    return HTTPException(
        HTTP_STATUS_BY_ERROR.get(exc.code, 500), detail={"code": exc.code, "message": str(exc)}
    )


def admin_routes(service: NotificationService) -> APIRouter:
    router = APIRouter(tags=["admin"])
    router.include_router(streams_routes())

    @router.get(
        "/stats", summary="Sent, delivered, duplicate, read, expired, deleted (this process)"
    )
    async def stats() -> dict[str, Any]:
        try:
            with jetstream("stats"):
                stored = await service.store.stored()
        except NotificationError as exc:
            raise _error(exc) from None
        totals: dict[str, Any] = {str(k): v for k, v in service.stats.totals.items()}
        return {
            **totals,
            "stored": sum(stored.values()),
            "users": len(stored),
        }

    @router.get("/backlog", summary="Users with the most stored inbox messages")
    async def backlog(limit: Annotated[int, Query(ge=1, le=10_000)] = 100) -> list[dict[str, Any]]:
        try:
            with jetstream("backlog"):
                stored = await service.store.stored()
        except NotificationError as exc:
            raise _error(exc) from None
        top = sorted(stored.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]
        return [{"user_id": user, "stored": n} for user, n in top]

    @router.get("/users/{user_id}", summary="One user's backlog and read state")
    async def user(user_id: str) -> dict[str, Any]:
        try:
            with jetstream("user"):
                stored = await service.store.stored(user_id)
                state, revision = await service.store.state(user_id)
        except NotificationError as exc:
            raise _error(exc) from None
        return {
            "user_id": user_id,
            "stored": sum(stored.values()),
            "unread": inbox.unread_count(state, now_ms()),
            "read_total": state.read_total,
            "expired_total": state.expired_total,
            "revision": revision,
        }

    return router
