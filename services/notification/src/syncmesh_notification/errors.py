"""Errors of the notification service.

::

    NotificationError (code)
    ├── UnavailableError        NATS / JetStream did not answer (``unavailable``)
    ├── NotificationNotFoundError   no such notification for this user (``not_found``)
    └── ConflictError           the read state kept changing under us (``conflict``)
"""

from syncmesh_schema.codes import ErrorCode


class NotificationError(Exception):
    """Base of every error the notification service raises on purpose."""

    code: ErrorCode = "internal"


class UnavailableError(NotificationError):
    code: ErrorCode = "unavailable"


class NotificationNotFoundError(NotificationError):
    code: ErrorCode = "not_found"


class ConflictError(NotificationError):
    code: ErrorCode = "conflict"
