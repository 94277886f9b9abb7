"""syncmesh resolver service."""

SERVICE = "resolver"
DISTRIBUTION = "syncmesh-resolver"
DESCRIPTION = (
    "Conflict strategies (three-way merge, field rules), the resolution log and the manual "
    "conflict queue."
)
