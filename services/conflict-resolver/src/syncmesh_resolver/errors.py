"""Errors of the resolver service.

::

    ConflictresolverError
"""


class ConflictresolverError(Exception):
    """Base of every error the resolver service raises on purpose."""
