"""syncmesh sync service: documents, versions and exactly-once mutations."""

SERVICE = "sync"
DISTRIBUTION = "syncmesh-sync"
