"""syncmesh notification service: per-user durable inbox, read state and live delivery."""

SERVICE = "notification"
DISTRIBUTION = "syncmesh-notification"
