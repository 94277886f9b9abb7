"""Errors of the gateway service.

::

    GatewayError
    └── CommandError       a client command refused with an ``error`` frame (code, message)
"""

from __future__ import annotations

from syncmesh_schema.client import Error
from syncmesh_schema.codes import ErrorCode


class GatewayError(Exception):
    """Base of every error the gateway service raises on purpose."""


class CommandError(GatewayError):
    """A command answered with ``error``; ``expected`` only for ``out_of_order``."""

    def __init__(self, code: ErrorCode, message: str, *, expected: int | None = None) -> None:
        super().__init__(message)
        self.code: ErrorCode = code
        self.message = message
        self.expected = expected

    def frame(self, re: str | None) -> Error:
        return Error(re=re, code=self.code, message=self.message, expected=self.expected)
