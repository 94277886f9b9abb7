"""``/admin/*`` of the resolver service (behind the admin guard, see ``app.py``): parked
manual conflicts (list, inspect, settle), the resolution history and statistics."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query

from syncmesh_kit.streams_admin import streams_routes
from syncmesh_schema.codes import HTTP_STATUS_BY_ERROR
from syncmesh_schema.conflict import (
    ConflictResolveBody,
    ConflictResolveReply,
    ManualConflict,
    ResolutionRecord,
)
from syncmesh_schema.ids import validate_id

from . import resolution
from .errors import ResolverError
from .service import ConflictState, ResolverService


def _error(exc: ResolverError) -> HTTPException:
    return HTTPException(
        HTTP_STATUS_BY_ERROR.get(exc.code, 500), detail={"code": exc.code, "message": str(exc)}
    )


def _id(value: str | None, what: str) -> None:
    if value is None:
        return
    try:
        validate_id(value, what)
    except ValueError as exc:
        raise HTTPException(400, detail={"code": "bad_request", "message": str(exc)}) from None


def admin_routes(service: ResolverService) -> APIRouter:
    router = APIRouter(tags=["admin"])
    router.include_router(streams_routes())

    @router.get("/conflicts", summary="Parked manual conflicts (open by default), oldest first")
    async def conflicts(
        collection: str | None = None,
        user_id: str | None = None,
        state: ConflictState = "open",
    ) -> list[ManualConflict]:
        _id(collection, "collection")
        try:
            return await service.conflicts(collection=collection, user_id=user_id, state=state)
        except ResolverError as exc:
            raise _error(exc) from None

    @router.get(
        "/conflicts/{conflict_id}",
        summary="One parked conflict: base, mine, theirs, the paths in conflict, a suggestion",
    )
    async def conflict(conflict_id: str) -> dict[str, Any]:
        _id(conflict_id, "conflict_id")
        try:
            found = await service.conflict(conflict_id)
        except ResolverError as exc:
            raise _error(exc) from None
        if found is None:
            raise HTTPException(404, detail={"code": "not_found", "message": "no such conflict"})
        parked, revision = found
        return {"conflict": parked.dump(), "revision": revision, **resolution.explain(parked)}

    @router.post(
        "/conflicts/{conflict_id}/resolve",
        summary="Settle a parked conflict with mine, theirs or a custom document",
        responses={404: {"description": "unknown or already settled"}},
    )
    async def settle(conflict_id: str, body: ConflictResolveBody) -> ConflictResolveReply:
        reply = await service.settle(conflict_id, body.choice, body.data, user_id=None)
        if reply.error_code is not None:
            raise HTTPException(
                HTTP_STATUS_BY_ERROR.get(reply.error_code, 500),
                detail={"code": reply.error_code, "message": reply.error_message},
            )
        return reply

    @router.get("/history", summary="Recent resolutions, newest first")
    async def history(
        collection: str | None = None,
        limit: Annotated[int | None, Query(ge=1)] = None,
    ) -> list[ResolutionRecord]:
        _id(collection, "collection")
        settings = service.settings
        n = min(limit or settings.history_limit, settings.history_max)
        try:
            return await service.history(collection, n)
        except ResolverError as exc:
            raise _error(exc) from None

    @router.get("/stats", summary="Resolutions by strategy and outcome, conflicts open/settled")
    async def stats() -> dict[str, object]:
        try:
            return await service.stats_snapshot()
        except ResolverError as exc:
            raise _error(exc) from None

    return router
