"""Errors of the presence service.

::

    PresenceError
"""


class PresenceError(Exception):
    """Base of every error the presence service raises on purpose."""
