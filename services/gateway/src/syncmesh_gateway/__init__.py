"""syncmesh gateway service: terminates WebSocket, SSE, long-poll and HTTP for clients; authenticates, authorises, fans out channel events, forwards mutations to sync."""

SERVICE = "gateway"
DISTRIBUTION = "syncmesh-gateway"
