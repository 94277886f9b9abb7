"""Identifiers that become NATS subject tokens or KV keys.

``collection``, ``doc_id``, ``room`` and ``client_id`` are 1–128 characters of
``[A-Za-z0-9_-]`` (PROTOCOL.md §2): nothing else may reach NATS as a subject token, where
``.``, ``*``, ``>`` and spaces have meaning. User ids come from JWTs and may be anything
(``alice@example.com``), so they are *encoded* into a token with :func:`user_token`.
"""

from __future__ import annotations

import base64
import re
from typing import Annotated

from pydantic import AfterValidator, Field

ID_PATTERN = r"^[A-Za-z0-9_-]{1,128}$"
_ID_RE = re.compile(ID_PATTERN)


def validate_id(value: str, what: str = "id") -> str:
    """Return ``value`` if it is a valid id, else raise ``ValueError`` saying what is allowed."""
    if not _ID_RE.fullmatch(value):
        raise ValueError(
            f"{what} must be 1-128 characters of A-Z, a-z, 0-9, '_' or '-' (got {value!r:.80})"
        )
    return value


def _collection(value: str) -> str:
    return validate_id(value, "collection")


def _doc_id(value: str) -> str:
    return validate_id(value, "doc_id")


def _room(value: str) -> str:
    return validate_id(value, "room")


def _client_id(value: str) -> str:
    return validate_id(value, "client_id")


Collection = Annotated[str, AfterValidator(_collection)]
DocId = Annotated[str, AfterValidator(_doc_id)]
Room = Annotated[str, AfterValidator(_room)]
ClientId = Annotated[str, AfterValidator(_client_id)]
UserId = Annotated[str, Field(min_length=1, max_length=256)]


def user_token(user_id: str) -> str:
    """Encode any user id as one subject token / KV key part, reversibly and without collisions.

    Ids that are already token-safe pass through unchanged (readable subjects); anything else
    becomes ``=`` + unpadded url-safe base64. ``=`` never occurs in a pass-through id, so the
    two forms cannot collide.
    """
    if _ID_RE.fullmatch(user_id):
        return user_id
    return "=" + base64.urlsafe_b64encode(user_id.encode()).decode().rstrip("=")


def user_from_token(token: str) -> str:
    """Inverse of :func:`user_token`."""
    if not token.startswith("="):
        return token
    data = token[1:]
    return base64.urlsafe_b64decode(data + "=" * (-len(data) % 4)).decode()
