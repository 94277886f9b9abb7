"""syncmesh presence service: rooms, members, status and self-healing expiry."""

SERVICE = "presence"
DISTRIBUTION = "syncmesh-presence"
