"""One client WebSocket: a bounded send queue drained by a writer task.

Everything the server sends to a client — replies, replayed and live events — goes through
:meth:`Connection.send_text`, which never blocks: it appends to the queue. The writer task
hands frames to the socket; when the client stops reading, the socket stops taking them,
the queue grows, and past ``send_queue_bytes`` the connection is closed with 4008 (slow
consumer) so that it never slows anybody else (DESIGN.md invariant 5). The same frame
object is shared by every connection of a channel: an event is encoded once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections import deque
from typing import TYPE_CHECKING, Protocol

from starlette.websockets import WebSocket, WebSocketDisconnect

from syncmesh_schema.base import WireModel
from syncmesh_schema.codes import CloseCode

from .metrics import GatewayMetrics
from .settings import GatewaySettings

if TYPE_CHECKING:
    from .hubs import Membership
    from .sessions import Session

log = logging.getLogger(__name__)

_TRANSPORT_ERRORS = (OSError, RuntimeError, WebSocketDisconnect)


class Peer(Protocol):
    """What hubs, subscriptions and the drain need of a client connection, whatever its
    transport: the WebSocket :class:`Connection` or an SSE / long-poll stream
    (``streams.py``)."""

    transport: str
    session: Session | None
    subscriptions: dict[str, Membership]
    closed: asyncio.Event

    @property
    def open(self) -> bool: ...

    @property
    def queued_bytes(self) -> int: ...

    def send(self, frame: WireModel) -> None: ...

    def send_text(self, text: str) -> None: ...

    def close(self, code: int, reason: str = "") -> None: ...


class Connection:
    """A WebSocket client connection and its outbox (see the module docstring)."""

    transport = "ws"

    def __init__(self, ws: WebSocket, settings: GatewaySettings, metrics: GatewayMetrics) -> None:
        self.id = uuid.uuid4().hex[:16]
        self.ws = ws
        self.settings = settings
        self.metrics = metrics
        self.session: Session | None = None
        self.subscriptions: dict[str, Membership] = {}
        self.close_code: int | None = None
        self.closed = asyncio.Event()
        self._queue: deque[str] = deque()
        self._queued_bytes = 0
        self._wake = asyncio.Event()
        self._closing: tuple[int, str] | None = None
        self._writer: asyncio.Task[None] | None = None
        self._closer: asyncio.Task[None] | None = None

    # --- sending -----------------------------------------------------------------------

    @property
    def queued_bytes(self) -> int:
        return self._queued_bytes

    @property
    def open(self) -> bool:
        return self._closing is None and not self.closed.is_set()

    def send(self, frame: WireModel) -> None:
        self.send_text(frame.to_json_bytes().decode())

    def send_text(self, text: str) -> None:
        """Queue one frame; closes the connection with 4008 when the queue is full."""
        if not self.open:
            return
        size = len(text)
        if self._queued_bytes + size > self.settings.send_queue_bytes:
            self.metrics.drops.labels("slow_consumer").inc()
            log.warning(
                "connection %s is not reading (%d queued + %d): closing with 4008",
                self.id,
                self._queued_bytes,
                size,
            )
            self.abort(CloseCode.SLOW_CONSUMER, "slow consumer: resume from your cursor")
            return
        self._queue.append(text)
        self._queued_bytes += size
        self._wake.set()

    # --- lifecycle ---------------------------------------------------------------------

    def start(self) -> None:
        self._writer = asyncio.create_task(self._write_loop(), name=f"ws-writer-{self.id}")

    def close(self, code: int, reason: str = "") -> None:
        """Close after the frames already queued have been written."""
        if not self.open:
            return
        self._closing = (code, reason)
        self._wake.set()

    def abort(self, code: int, reason: str = "") -> None:
        """Close now, dropping whatever is still queued (slow consumer)."""
        if self.closed.is_set() or self._closer is not None:
            return
        self._closing = (code, reason)
        self._queue.clear()
        self._queued_bytes = 0
        if self._writer is not None:
            self._writer.cancel()
        self._closer = asyncio.create_task(self._send_close(code, reason))

    async def wait_closed(self) -> None:
        """Until the connection is closed; cancels the writer if it is still running."""
        await self.closed.wait()

    async def shutdown(self) -> None:
        """Final clean-up once the session is over (whatever ended it)."""
        if not self.closed.is_set() and self._closing is None:
            self.close(CloseCode.NORMAL)
        tasks = [t for t in (self._writer, self._closer) if t is not None]
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=self.settings.close_timeout_s + 1)
            for task in pending:
                task.cancel()
        self.closed.set()

    async def _write_loop(self) -> None:
        try:
            while True:
                await self._wake.wait()
                self._wake.clear()
                while self._queue:
                    batch = self.session is not None and self.session.batch
                    text = self._take(batch)
                    await self.ws.send_text(text)
                    self.metrics.bytes_out.labels(self.transport).inc(len(text))
                if self._closing is not None:
                    break
        except _TRANSPORT_ERRORS:
            self._closing = self._closing or (1006, "")
            self.closed.set()
            return
        code, reason = self._closing
        await self._send_close(code, reason)

    def _take(self, batch: bool) -> str:
        text = self._queue.popleft()
        self._queued_bytes -= len(text)
        count = 1
        if batch:
            parts = [text]
            size = len(text)
            limit = self.settings.batch_max_bytes
            while self._queue and size + len(self._queue[0]) + 1 <= limit:
                nxt = self._queue.popleft()
                self._queued_bytes -= len(nxt)
                parts.append(nxt)
                size += len(nxt) + 1
            count = len(parts)
            text = "\n".join(parts)
        self.metrics.delivered.labels(self.transport).inc(count)
        return text

    async def _send_close(self, code: int, reason: str) -> None:
        self.close_code = code
        if code >= 4000 or code == CloseCode.FRAME_TOO_LARGE:
            self.metrics.disconnects.labels(str(code)).inc()
        with contextlib.suppress(*_TRANSPORT_ERRORS, TimeoutError):
            await asyncio.wait_for(self.ws.close(code, reason), self.settings.close_timeout_s)
        self.closed.set()
