"""``/v1/notifications``: send (admin) and the user's own inbox (Bearer JWT; only the token's
own user, whatever is asked).

No ``from __future__ import annotations`` here: FastAPI must resolve the local ``Claims``
alias at runtime."""

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query

from syncmesh_kit.httpauth import claims_dependency
from syncmesh_kit.runtime import ServiceRuntime
from syncmesh_schema.auth import TokenClaims
from syncmesh_schema.codes import HTTP_STATUS_BY_ERROR
from syncmesh_schema.notification import (
    NotificationPage,
    NotificationSend,
    NotificationSendReply,
    NotificationsReadBody,
)

from .errors import NotificationError
from .service import NotificationService


def _error(exc: NotificationError) -> HTTPException:
    return HTTPException(
        HTTP_STATUS_BY_ERROR.get(exc.code, 500), detail={"code": exc.code, "message": str(exc)}
    )


def api_routes(service: NotificationService, runtime: ServiceRuntime) -> APIRouter:
    router = APIRouter(prefix="/v1/notifications", tags=["notifications"])
    Claims = Annotated[TokenClaims, Depends(claims_dependency(runtime.verifier))]

    @router.post(
        "",
        summary="Send to user_ids or every member of a room (admin JWT or admin token)",
        dependencies=[Depends(runtime.require_admin)],
    )
    async def send(body: NotificationSend) -> NotificationSendReply:
        try:
            return await service.send(body)
        except NotificationError as exc:
            raise _error(exc) from None

    @router.get("", summary="The caller's notifications, oldest first, paged")
    async def listing(
        claims: Claims,
        unread: bool = False,
        after: Annotated[int, Query(ge=0)] = 0,
        limit: Annotated[int | None, Query(ge=1)] = None,
    ) -> NotificationPage:
        n = min(limit or service.settings.list_limit, service.settings.list_max)
        try:
            return await service.page(claims.sub, after=after, limit=n, unread_only=unread)
        except NotificationError as exc:
            raise _error(exc) from None

    @router.get("/unread", summary="The caller's unread count")
    async def unread(claims: Claims) -> dict[str, int]:
        try:
            return {"unread": await service.unread(claims.sub)}
        except NotificationError as exc:
            raise _error(exc) from None

    @router.post("/read", summary="Mark ids (or all: true) read; the new unread count")
    async def read(claims: Claims, body: NotificationsReadBody) -> dict[str, int]:
        try:
            return {"unread": await service.mark_read(claims.sub, body.ids, body.all)}
        except NotificationError as exc:
            raise _error(exc) from None

    @router.post("/read-all", summary="Mark everything read; the new unread count")
    async def read_all(claims: Claims) -> dict[str, int]:
        try:
            return {"unread": await service.mark_read(claims.sub, [], True)}
        except NotificationError as exc:
            raise _error(exc) from None

    @router.delete("/{notification_id}", summary="Delete one notification; the unread count")
    async def delete(claims: Claims, notification_id: str) -> dict[str, int]:
        try:
            return {"unread": await service.delete(claims.sub, notification_id)}
        except NotificationError as exc:
            raise _error(exc) from None

    return router
