"""syncmesh."""
