"""Errors of the resolver service.

::

    ResolverError
"""


class ResolverError(Exception):
    """Base of every error the resolver service raises on purpose."""
