"""syncmesh sync service."""

SERVICE = "sync"
DISTRIBUTION = "syncmesh-sync"
DESCRIPTION = "Documents, versions and exactly-once mutations."
