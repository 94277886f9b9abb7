"""HTTP endpoints for clients (PROTOCOL.md §1): ``POST /v1/commands``,
``GET /v1/docs/{collection}/{doc_id}``, ``POST /v1/mutations``."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import Response
from pydantic import ValidationError

from syncmesh_kit.httpauth import claims_dependency
from syncmesh_schema.auth import TokenClaims
from syncmesh_schema.base import WireModel
from syncmesh_schema.client import (
    DocSnapshot,
    Error,
    FrameError,
    MutationBatch,
    MutationBatchReply,
    Result,
    describe_validation_error,
    parse_client_frame,
)
from syncmesh_schema.codes import HTTP_STATUS_BY_ERROR
from syncmesh_schema.ids import validate_id
from syncmesh_schema.mutations import Mutation

from .clients import ClientEntry
from .commands import Commands
from .errors import CommandError
from .events import snapshot_of
from .gateway import Gateway
from .sessions import Session

JSON = "application/json"


def _frame_response(frame: WireModel) -> Response:
    status = HTTP_STATUS_BY_ERROR[frame.code] if isinstance(frame, Error) else 200
    return Response(frame.to_json_bytes(), status_code=status, media_type=JSON)


def _http_error(status: int, code: str, message: str) -> HTTPException:
    return HTTPException(status, detail={"code": code, "message": message})


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, or 413 as soon as it is known to exceed ``limit`` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _http_error(413, "too_large", f"body is over {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _http_error(413, "too_large", f"body is over {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def client_claims(request: Request) -> TokenClaims:
    """The bearer token's claims (``Authorization: Bearer`` or ``token=``), else 401."""
    gateway: Gateway = request.app.state.gateway
    return await claims_dependency(gateway.runtime.verifier)(request)


Claims = Annotated[TokenClaims, Depends(client_claims)]


def http_routes(gateway: Gateway, commands: Commands) -> APIRouter:
    router = APIRouter(tags=["clients"])

    def ready() -> None:
        if not gateway.ready:
            raise _http_error(503, "unavailable", "the gateway is not ready")

    @router.post(
        "/v1/commands",
        summary="Run one client command (any frame of PROTOCOL.md §3 except hello)",
        response_description="The reply frame (error frames carry the matching HTTP status)",
        dependencies=[Depends(ready)],
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {JSON: {"schema": {"type": "object", "description": "a client frame"}}},
            }
        },
        responses={200: {"content": {JSON: {}}}, 413: {"description": "body too large"}},
    )
    async def run_command(request: Request, claims: Claims) -> Response:
        body = await read_body(request, gateway.settings.max_frame_bytes)
        try:
            frame = parse_client_frame(body)
        except FrameError as exc:
            return _frame_response(Error(re=exc.frame_id, code=exc.code, message=exc.message))
        session = Session(claims, "http")
        try:
            reply = await commands.run(session, frame, None)
            if isinstance(reply, asyncio.Future):
                reply = await reply
        except CommandError as exc:
            reply = exc.frame(frame.id)
        assert reply is not None
        return _frame_response(reply)

    @router.get(
        "/v1/docs/{collection}/{doc_id}",
        summary="Current snapshot of a document",
        response_model=DocSnapshot,
        dependencies=[Depends(ready)],
        responses={403: {"description": "not readable"}, 404: {"description": "never existed"}},
    )
    async def get_doc(collection: str, doc_id: str, claims: Claims) -> Any:
        try:
            validate_id(collection, "collection")
            validate_id(doc_id, "doc_id")
        except ValueError as exc:
            raise _http_error(400, "bad_request", str(exc)) from None
        channel = f"doc:{collection}/{doc_id}"
        if not claims.may_read(channel):
            raise _http_error(403, "forbidden", f"your token does not allow {channel!r}")
        found = await gateway.store.document(collection, doc_id)
        if found is None:
            raise _http_error(404, "not_found", f"document {collection}/{doc_id} does not exist")
        return snapshot_of(collection, doc_id, found[0]).dump()

    @router.post(
        "/v1/mutations",
        summary="Apply mutations in order (offline replay)",
        response_model=MutationBatchReply,
        dependencies=[Depends(ready)],
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {JSON: {"schema": MutationBatch.model_json_schema()}},
            }
        },
        responses={413: {"description": "more than 1,000 mutations or 4 MiB"}},
    )
    async def post_mutations(request: Request, claims: Claims) -> Response:
        settings = gateway.settings
        body = await read_body(request, settings.mutations_max_bytes)
        try:
            batch = MutationBatch.model_validate_json(body)
        except ValidationError as exc:
            raise _http_error(400, "bad_request", describe_validation_error(exc)) from None
        if len(batch.mutations) > settings.mutations_max_count:
            raise _http_error(
                413, "too_large", f"at most {settings.mutations_max_count} mutations per request"
            )
        replies = await apply_in_order(gateway, Session(claims, "http"), batch.mutations)
        return Response(MutationBatchReply(results=replies).to_json_bytes(), media_type=JSON)

    return router


async def apply_in_order(
    gateway: Gateway, session: Session, raw: list[dict[str, Any]]
) -> list[Result | Error]:
    """Publish every mutation in order (sync applies one client's in order), then collect the
    outcomes. After an ``out_of_order`` the client's later ones get ``out_of_order`` too."""
    intake = gateway.intake
    entries: dict[str, ClientEntry] = {}
    broken: dict[str, int | None] = {}
    pending: list[Result | Error | asyncio.Future[WireModel]] = []
    try:
        for item in raw:
            try:
                m = Mutation.model_validate(item)
            except ValidationError as exc:
                pending.append(Error(code="bad_request", message=describe_validation_error(exc)))
                continue
            if m.client_id in broken:
                expected = broken[m.client_id]
                pending.append(
                    Error(
                        code="out_of_order",
                        message="an earlier mutation of this client in the batch was refused",
                        expected=expected,
                    )
                )
                continue
            try:
                entry = entries.get(m.client_id)
                if entry is None:
                    entry = entries[m.client_id] = await intake.claim(m.client_id, session.user_id)
                pending.append(await intake.submit(session, entry, m, None))
            except CommandError as exc:
                if exc.code in ("out_of_order", "unavailable"):
                    broken[m.client_id] = exc.expected
                pending.append(exc.frame(None))
        out: list[Result | Error] = []
        for item_reply in pending:
            reply = await item_reply if isinstance(item_reply, asyncio.Future) else item_reply
            assert isinstance(reply, Result | Error)
            out.append(reply)
        return out
    finally:
        for entry in entries.values():
            gateway.ledger.release(entry)
