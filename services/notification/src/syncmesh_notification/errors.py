"""Errors of the notification service.

::

    NotificationError
"""


class NotificationError(Exception):
    """Base of every error the notification service raises on purpose."""
