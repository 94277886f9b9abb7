"""Error codes and WebSocket close codes — the only place they are defined.

Error codes (``error.code`` in a frame, PROTOCOL.md §3) are a closed set of strings:

================  ================================================================
``bad_request``   malformed frame, wrong type, invalid id — fix the request
``unauthorized``  no valid token — get a new token first
``forbidden``     the token does not allow this channel, collection or client id
``not_found``     unknown document, conflict or notification
``too_large``     frame or payload over the limit
``rate_limited``  too many requests — slow down
``out_of_order``  a ``mutation_id`` beyond ``last + 1``; the reply says which is expected
``conflict``      a write lost a race that could not be resolved automatically
``unavailable``   a dependency (NATS, a service) is not reachable — retry later
``internal``      a bug on our side; the request changed nothing
================  ================================================================

Close codes (RFC 6455 §7.4.2 reserves 4000–4999 for applications). Ranges:

* ``1000–1999`` — protocol level (RFC 6455): 1009 frame too large.
* ``4000–4499`` — reconnect (with backoff), e.g. 4000 going away, 4001 after a new token,
  4008 resume from the cursor, 4029 after a delay. **Exception: 4003 forbidden is terminal**
  although it sits in this range; PROTOCOL.md fixes its number.
* ``4500–4999`` — terminal: do not reconnect.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Literal, get_args

ErrorCode = Literal[
    "bad_request",
    "unauthorized",
    "forbidden",
    "not_found",
    "too_large",
    "rate_limited",
    "out_of_order",
    "conflict",
    "unavailable",
    "internal",
]
ERROR_CODES: frozenset[str] = frozenset(get_args(ErrorCode))


class CloseCode(IntEnum):
    """WebSocket close codes used by the gateway."""

    NORMAL = 1000
    FRAME_TOO_LARGE = 1009
    SERVER_GOING_AWAY = 4000
    UNAUTHORIZED = 4001
    FORBIDDEN = 4003
    SLOW_CONSUMER = 4008
    RATE_LIMITED = 4029

    @property
    def reconnect(self) -> bool:
        """Whether a client should reconnect after this close (see the module docstring)."""
        if self is CloseCode.FORBIDDEN:
            return False
        return self.value < 4500


HTTP_STATUS_BY_ERROR: dict[str, int] = {
    "bad_request": 400,
    "unauthorized": 401,
    "forbidden": 403,
    "not_found": 404,
    "too_large": 413,
    "rate_limited": 429,
    "out_of_order": 409,
    "conflict": 409,
    "unavailable": 503,
    "internal": 500,
}
"""The HTTP status that carries each error code on the HTTP endpoints."""
