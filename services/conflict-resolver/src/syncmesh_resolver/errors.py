"""Errors of the resolver service. Each carries the protocol error ``code`` it answers with.

::

    ResolverError
    ├── InvalidRequestError      bad_request   malformed request, policy the strategies refuse
    ├── ConflictNotFoundError    not_found     unknown conflict, or already settled
    ├── NotConflictOwnerError    forbidden     not the conflict's user, or may not write
    └── UnavailableError         unavailable   sync or NATS did not answer in time (retry)
"""

from __future__ import annotations

from syncmesh_schema.codes import ErrorCode


class ResolverError(Exception):
    """Base of every error the resolver service raises on purpose."""

    code: ErrorCode = "internal"


class InvalidRequestError(ResolverError):
    code: ErrorCode = "bad_request"


class ConflictNotFoundError(ResolverError):
    code: ErrorCode = "not_found"


class NotConflictOwnerError(ResolverError):
    code: ErrorCode = "forbidden"


class UnavailableError(ResolverError):
    code: ErrorCode = "unavailable"
