"""syncmesh gateway service."""

SERVICE = "gateway"
DISTRIBUTION = "syncmesh-gateway"
DESCRIPTION = (
    "Terminates WebSocket, SSE, long-poll and HTTP for clients; authenticates, "
    "authorises, fans out channel events, forwards mutations to sync."
)
