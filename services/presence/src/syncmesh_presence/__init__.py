"""syncmesh presence service."""

SERVICE = "presence"
DISTRIBUTION = "syncmesh-presence"
DESCRIPTION = "Rooms, members, status and self-healing expiry."
