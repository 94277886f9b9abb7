"""syncmesh resolver service: conflict strategies, three-way merge, OT, CRDTs and the manual conflict queue."""

SERVICE = "resolver"
DISTRIBUTION = "syncmesh-resolver"
