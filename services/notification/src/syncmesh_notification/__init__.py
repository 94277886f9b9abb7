"""syncmesh notification service."""

SERVICE = "notification"
DISTRIBUTION = "syncmesh-notification"
DESCRIPTION = "Per-user durable inbox, read state and live delivery."
