"""``/admin/*`` of the sync service (behind the admin guard, see ``app.py``): documents with
their history, statistics, and collection conflict policies."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, HTTPException

from syncmesh_kit.streams_admin import streams_routes
from syncmesh_schema.conflict import CollectionPolicy
from syncmesh_schema.ids import Collection, DocId, validate_id

from .service import SyncService


def _unavailable() -> HTTPException:
    return HTTPException(
        503, detail={"code": "unavailable", "message": "not connected to NATS yet"}
    )


def admin_routes(service: SyncService) -> APIRouter:
    router = APIRouter(tags=["admin"])
    router.include_router(streams_routes())

    @router.get(
        "/docs/{collection}/{doc_id}", summary="A document's current version and kept history"
    )
    async def doc(collection: str, doc_id: str) -> dict[str, Any]:
        _ids(collection=collection, doc_id=doc_id)
        if service.store is None:
            raise _unavailable()
        current = await service.store.doc(collection, doc_id, fresh=True)
        if current.version == 0:
            raise HTTPException(404, detail={"code": "not_found", "message": "no such document"})
        history = await service.store.history(collection, doc_id)
        return {
            "collection": collection,
            "doc_id": doc_id,
            "version": current.version,
            "deleted": current.deleted,
            "data": current.data,
            "revision": current.revision,
            "history": [r.dump() for r in history],
        }

    @router.get("/stats", summary="Mutations processed, duplicates, conflicts, intake backlog")
    async def stats() -> dict[str, object]:
        backlog = await service.intake.backlog() if service.intake else None
        return service.stats.snapshot(backlog)

    @router.get("/policies", summary="Every collection's conflict policy that is not the default")
    async def policies() -> list[CollectionPolicy]:
        if service.store is None:
            raise _unavailable()
        return service.store.policies()

    @router.get("/policies/{collection}", summary="A collection's conflict policy")
    async def get_policy(collection: str) -> CollectionPolicy:
        _ids(collection=collection)
        if service.store is None:
            raise _unavailable()
        return service.store.policy(collection)

    @router.put("/policies/{collection}", summary="Set a collection's conflict policy")
    async def put_policy(collection: str, policy: CollectionPolicy = Body(...)) -> CollectionPolicy:  # noqa: B008
        _ids(collection=collection)
        if policy.collection != collection:
            raise HTTPException(
                400,
                detail={"code": "bad_request", "message": "policy.collection must match the URL"},
            )
        if service.store is None:
            raise _unavailable()
        await service.store.save_policy(policy)
        return policy

    return router


def _ids(**ids: str) -> None:
    for what, value in ids.items():
        try:
            validate_id(value, what)
        except ValueError as exc:
            raise HTTPException(400, detail={"code": "bad_request", "message": str(exc)}) from None


__all__ = ["Collection", "DocId", "admin_routes"]
