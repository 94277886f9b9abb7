"""Errors of the gateway service.

::

    GatewayError
"""


class GatewayError(Exception):
    """Base of every error the gateway service raises on purpose."""
