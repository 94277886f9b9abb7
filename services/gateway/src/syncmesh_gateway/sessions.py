"""A client session: who is connected (token claims), as which client, over what transport.

Pure rules: a refreshed token must name the same user; ``exp`` says when the session ends.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Literal

from syncmesh_schema.auth import TokenClaims

from .errors import CommandError

Transport = Literal["ws", "http"]


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass
class Session:
    claims: TokenClaims
    transport: Transport
    client_id: str | None = None
    """The ``hello`` client id (WebSocket); ``None`` on stateless HTTP requests."""
    batch: bool = False
    session_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    presence_rooms: set[str] = field(default_factory=set)
    """Rooms this connection announced itself in (left when it closes)."""

    @property
    def user_id(self) -> str:
        return self.claims.sub

    def seconds_left(self, now_s: float | None = None) -> float:
        return self.claims.exp - (time.time() if now_s is None else now_s)

    def refresh(self, claims: TokenClaims) -> None:
        """Adopt a new token for the same user (``forbidden`` if it names another user)."""
        if claims.sub != self.claims.sub:
            raise CommandError(
                "forbidden", f"refresh token is for user {claims.sub!r}, not {self.claims.sub!r}"
            )
        self.claims = claims

    def check_read(self, channel: str) -> None:
        if not self.claims.may_read(channel):
            raise CommandError("forbidden", f"your token does not allow channel {channel!r}")
