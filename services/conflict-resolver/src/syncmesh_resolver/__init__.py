"""syncmesh resolver service."""

SERVICE = "resolver"
DISTRIBUTION = "syncmesh-resolver"
DESCRIPTION = "Conflict strategies, three-way merge, OT, CRDTs and the manual conflict queue."
