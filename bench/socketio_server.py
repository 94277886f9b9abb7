"""Baseline of ``bench.gateway``: a python-socketio server (ASGI under uvicorn + uvloop, the
same WebSocket stack as the gateway) with rooms: ``join`` enters a room, ``pub`` emits ``msg``
to everyone in it. Run as ``python -m bench.socketio_server PORT``."""

from __future__ import annotations

import sys
from typing import Any

import socketio  # type: ignore[import-untyped]
import uvicorn

sio = socketio.AsyncServer(async_mode="asgi", transports=["websocket"], cors_allowed_origins="*")


@sio.on("join")  # type: ignore[untyped-decorator]
async def join(sid: str, room: str) -> str:
    await sio.enter_room(sid, room)
    return "ok"


@sio.on("pub")  # type: ignore[untyped-decorator]
async def pub(sid: str, room: str, data: Any) -> str:
    await sio.emit("msg", data, room=room)
    return "ok"


def main() -> None:
    uvicorn.run(
        socketio.ASGIApp(sio),
        host="127.0.0.1",
        port=int(sys.argv[1]),
        loop="uvloop",
        ws="websockets-sansio",
        ws_per_message_deflate=False,
        log_level="warning",
        backlog=4096,
    )


if __name__ == "__main__":
    main()
