"""Bearer-token extraction and the admin guard for HTTP endpoints."""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable

from fastapi import HTTPException, Request

from syncmesh_schema.auth import TokenClaims

from .auth import AuthError, TokenVerifier


def request_token(request: Request) -> str | None:
    """``Authorization: Bearer <jwt>``, else the ``token`` query parameter (EventSource)."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return request.query_params.get("token") or None


def claims_dependency(verifier: TokenVerifier) -> Callable[[Request], Awaitable[TokenClaims]]:
    """FastAPI dependency: the verified claims, or 401 saying why."""

    async def claims(request: Request) -> TokenClaims:
        try:
            return verifier.verify(request_token(request) or "")
        except AuthError as exc:
            raise HTTPException(
                401,
                detail={"code": "unauthorized", "message": str(exc)},
                headers={"WWW-Authenticate": "Bearer"},
            ) from None

    return claims


def admin_dependency(
    verifier: TokenVerifier, admin_token: str | None
) -> Callable[[Request], Awaitable[None]]:
    """FastAPI dependency for ``/admin``: an ``admin: true`` JWT or the static admin token."""

    async def require_admin(request: Request) -> None:
        token = request_token(request) or ""
        if admin_token and token and hmac.compare_digest(token, admin_token):
            return
        try:
            claims = verifier.verify(token)
        except AuthError as exc:
            raise HTTPException(
                401,
                detail={"code": "unauthorized", "message": str(exc)},
                headers={"WWW-Authenticate": "Bearer"},
            ) from None
        if not claims.admin:
            raise HTTPException(
                403, detail={"code": "forbidden", "message": "admin endpoints need an admin token"}
            )

    return require_admin
