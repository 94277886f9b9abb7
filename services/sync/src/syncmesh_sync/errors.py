"""Errors of the sync service.

::

    SyncError
"""


class SyncError(Exception):
    """Base of every error the sync service raises on purpose."""
