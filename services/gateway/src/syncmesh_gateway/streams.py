"""``GET /v1/sse`` and ``GET /v1/poll`` (PROTOCOL.md §5): the WebSocket's subscriptions over
plain HTTP, reusing the same hubs, replay and cursors (``subscriptions.py``).

A :class:`StreamPeer` stands where a WebSocket :class:`~.connection.Connection` would: the
hubs and :class:`~.subscriptions.Subscriptions` queue frames on it exactly as on a socket.
It keeps each channel's position — the ``subscribed`` cursor, then the cursor of every
event handed to the client — and says it as one **composite cursor** (``composite.py``):
the SSE ``id:`` of every event and the long-poll ``cursor``. Resuming from a composite
subscribes every channel with its own cursor, so each channel replays exactly what it
missed; a channel that cannot be replayed gets a ``resync`` frame, never a silent gap.

SSE: every channel is authorised (401 / 400 / 403) and subscribed before the response
starts; then ``retry:`` and ``event: welcome`` (data ``{session_id, cursor}``), the
replayed and live events, a ``: ping`` comment every ``sse_ping_s``. The stream ends when
the token expires (after an ``error`` event ``unauthorized``), when the client stops
reading (``send_queue_bytes`` queued: slow consumer) or on a graceful shutdown.

Long-poll: subscribe from ``cursor``; answer at once when something is queued (replayed
events, ``resync``), without a ``cursor`` at once with the current composite, else when
the first live event arrives or after ``timeout`` seconds with none.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from syncmesh_schema.base import WireModel
from syncmesh_schema.client import Error, Resync, Subscribe
from syncmesh_schema.codes import HTTP_STATUS_BY_ERROR, CloseCode

from .composite import decode_composite, encode_composite
from .errors import CommandError
from .gateway import Gateway
from .metrics import GatewayMetrics
from .routes import Claims
from .sessions import Session
from .settings import GatewaySettings
from .subscriptions import channel_ref

if TYPE_CHECKING:
    from .hubs import Membership

log = logging.getLogger(__name__)

StreamTransport = Literal["sse", "poll"]
UNRESUMABLE = "-"
"""Handed to ``subscribe`` as the cursor of a channel that cannot be resumed: never a valid
cursor, so the channel starts live with ``recovered: false`` (inbox included)."""
RESYNC_REASON = (
    "the cursor cannot be resumed for this channel (history trimmed, stream reset, unknown "
    "or missing cursor): fetch a snapshot"
)
SSE_HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}


@dataclass(frozen=True, slots=True)
class Item:
    """One frame for the client: its SSE event name, the channel and the channel's cursor
    after it (events only), and the frame's JSON."""

    name: str
    channel: str | None
    cursor: str | None
    text: str


class StreamPeer:
    """An SSE stream or a long-poll request, as a :class:`~.connection.Peer`."""

    def __init__(
        self,
        transport: StreamTransport,
        session: Session,
        settings: GatewaySettings,
        metrics: GatewayMetrics,
    ) -> None:
        self.id = uuid.uuid4().hex[:16]
        self.transport: str = transport
        self.session: Session | None = session
        self.settings = settings
        self.metrics = metrics
        self.subscriptions: dict[str, Membership] = {}
        self.closed = asyncio.Event()
        self.aborted = asyncio.Event()
        self.wake = asyncio.Event()
        self.close_code: int | None = None
        self.positions: dict[str, str] = {}
        """Each channel's resume point as handed to the client so far."""
        self.resuming: set[str] = set()
        """Channels subscribed from a client cursor: ``recovered: false`` → ``resync``."""
        self.limit: int | None = None
        """Bytes queued at most (``None`` while the stream is being set up)."""
        self._queue: deque[Item] = deque()
        self._queued_bytes = 0

    # --- Peer --------------------------------------------------------------------------

    @property
    def open(self) -> bool:
        return self.close_code is None and not self.closed.is_set()

    @property
    def queued_bytes(self) -> int:
        return self._queued_bytes

    def send(self, frame: WireModel) -> None:
        self.send_text(frame.to_json_bytes().decode())

    def send_text(self, text: str) -> None:
        if not self.open:
            return
        frame = json.loads(text)
        kind = frame.get("type")
        if kind == "event":
            self._put(Item(frame["kind"], frame["channel"], frame["cursor"], text))
        elif kind == "subscribed":
            channel = frame["channel"]
            self.positions[channel] = frame["cursor"]
            if channel in self.resuming and not frame["recovered"]:
                self.metrics.resyncs.inc()
                resync = Resync(channel=channel, reason=RESYNC_REASON)
                self._put(Item("resync", channel, None, resync.to_json_bytes().decode()))
        elif kind in ("resync", "error"):
            self._put(Item(kind, frame.get("channel"), None, text))
        # other replies (``unsubscribed``) are not for the client of a stream

    def close(self, code: int, reason: str = "") -> None:
        """End after what is queued has been written."""
        if self.open:
            self.close_code = code
            self.wake.set()

    # --- queue -------------------------------------------------------------------------

    def _put(self, item: Item) -> None:
        size = len(item.text)
        if self.limit is not None and self._queued_bytes + size > self.limit:
            self.metrics.drops.labels("slow_consumer").inc()
            log.warning(
                "%s stream %s is not reading (%d bytes queued): closing",
                self.transport,
                self.id,
                self._queued_bytes,
            )
            self.close_code = CloseCode.SLOW_CONSUMER
            self._queue.clear()
            self._queued_bytes = 0
            self.aborted.set()
            self.wake.set()
            return
        self._queue.append(item)
        self._queued_bytes += size
        self.wake.set()

    def take(self) -> list[Item]:
        items = list(self._queue)
        self._queue.clear()
        self._queued_bytes = 0
        return items

    def advance(self, item: Item) -> str:
        """Record that ``item`` reached the client; the composite cursor after it."""
        if item.channel is not None and item.cursor is not None:
            self.positions[item.channel] = item.cursor
        return self.cursor

    @property
    def cursor(self) -> str:
        return encode_composite(self.positions)


# --- opening (shared by SSE and long-poll) -------------------------------------------------


def _http_error(status: int, code: str, message: str) -> HTTPException:
    return HTTPException(status, detail={"code": code, "message": message})


def parse_channels(raw: str, session: Session, limit: int) -> list[str]:
    """The distinct channels of ``channels=`` (400 if malformed, 403 if any is not allowed)."""
    channels = list(dict.fromkeys(c.strip() for c in raw.split(",") if c.strip()))
    if not channels:
        raise _http_error(400, "bad_request", "channels= names no channel")
    if len(channels) > limit:
        raise _http_error(400, "bad_request", f"at most {limit} channels per request")
    for channel in channels:
        try:
            channel_ref(channel)
        except CommandError as exc:
            raise _http_error(400, exc.code, exc.message) from None
    for channel in channels:
        if not session.claims.may_read(channel):
            raise _http_error(403, "forbidden", f"your token does not allow channel {channel!r}")
    return channels


class Streams:
    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway

    async def open(
        self,
        transport: StreamTransport,
        session: Session,
        channels: list[str],
        resume_from: str | None,
    ) -> StreamPeer:
        """A registered peer subscribed to every channel (from ``resume_from`` if given);
        raises :class:`HTTPException` (and releases everything) on failure."""
        g = self.gateway
        peer = StreamPeer(transport, session, g.settings, g.metrics)
        resume = decode_composite(resume_from, channels) if resume_from is not None else None
        g.connections.add(peer)
        g.metrics.connections.labels(transport).inc()
        try:
            for channel in channels:
                cursor: str | None = None
                if resume is not None:
                    cursor = resume[channel] or UNRESUMABLE
                    peer.resuming.add(channel)
                frame = Subscribe(type="subscribe", id=transport, channel=channel, cursor=cursor)
                await g.subscriptions.subscribe(peer, session, frame)
        except CommandError as exc:
            await self.close(peer)
            raise _http_error(HTTP_STATUS_BY_ERROR[exc.code], exc.code, exc.message) from None
        except Exception as exc:
            await self.close(peer)
            log.warning("could not open a %s stream: %r", transport, exc)
            raise _http_error(503, "unavailable", "could not subscribe: retry") from None
        return peer

    async def close(self, peer: StreamPeer) -> None:
        g = self.gateway
        if peer.closed.is_set():
            return
        peer.closed.set()
        with contextlib.suppress(Exception):
            await g.subscriptions.unsubscribe_all(peer)
        g.connections.discard(peer)
        g.metrics.connections.labels(peer.transport).dec()
        code = peer.close_code
        if code is not None and code >= 4000:
            g.metrics.disconnects.labels(str(code)).inc()


# --- SSE -----------------------------------------------------------------------------------


def sse_frame(name: str, event_id: str | None, data: str) -> str:
    head = f"event: {name}\n"
    if event_id is not None:
        head += f"id: {event_id}\n"
    return f"{head}data: {data}\n\n"


async def _disconnected(receive: Receive) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return


class SseResponse(StreamingResponse):
    """The event stream of one :class:`StreamPeer` (see the module docstring)."""

    def __init__(self, streams: Streams, peer: StreamPeer, session: Session) -> None:
        super().__init__(iter(()), media_type="text/event-stream", headers=SSE_HEADERS)
        self.streams = streams
        self.peer = peer
        self.session = session

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        peer = self.peer
        pump = asyncio.create_task(self._pump(send), name=f"sse-{peer.id}")
        gone = asyncio.create_task(_disconnected(receive))
        aborted = asyncio.create_task(peer.aborted.wait())
        tasks = (pump, gone, aborted)
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await self.streams.close(peer)
        failed = pump.exception() if pump.done() and not pump.cancelled() else None
        if failed is not None and not isinstance(failed, OSError):
            log.warning("SSE stream %s failed: %r", peer.id, failed)

    async def _pump(self, send: Send) -> None:
        peer, session = self.peer, self.session
        settings, metrics = peer.settings, peer.metrics
        loop = asyncio.get_running_loop()

        async def write(text: str, frames: int) -> None:
            await send({"type": "http.response.body", "body": text.encode(), "more_body": True})
            metrics.bytes_out.labels("sse").inc(len(text))
            if frames:
                metrics.delivered.labels("sse").inc(frames)

        await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
        welcome = json.dumps(
            {"type": "welcome", "session_id": session.session_id, "cursor": peer.cursor},
            separators=(",", ":"),
        )
        peer.limit = settings.send_queue_bytes
        await write(
            f"retry: {settings.sse_retry_ms}\n" + sse_frame("welcome", peer.cursor, welcome), 1
        )
        next_ping = loop.time() + settings.sse_ping_s
        while True:
            peer.wake.clear()
            items = peer.take()
            if items:
                out = [
                    sse_frame(
                        item.name, peer.advance(item) if item.name != "error" else None, item.text
                    )
                    for item in items
                ]
                await write("".join(out), len(items))
                continue
            if peer.close_code is not None:
                break
            left = session.seconds_left()
            if left <= 0:
                metrics.auth_failures.inc()
                peer.close(CloseCode.UNAUTHORIZED, "token expired")
                expired = Error(
                    code="unauthorized", message="token expired: reconnect with a new token"
                )
                await write(sse_frame("error", None, expired.to_json_bytes().decode()), 1)
                break
            now = loop.time()
            if now >= next_ping:
                await write(": ping\n\n", 0)
                next_ping = now + settings.sse_ping_s
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(peer.wake.wait(), min(next_ping - now, left))
        await send({"type": "http.response.body", "body": b"", "more_body": False})


# --- routes --------------------------------------------------------------------------------


def stream_routes(gateway: Gateway) -> APIRouter:
    router = APIRouter(tags=["clients"])
    streams = Streams(gateway)
    settings = gateway.settings

    def ready() -> None:
        if not gateway.ready:
            raise _http_error(503, "unavailable", "the gateway is not ready")

    @router.get(
        "/v1/sse",
        summary="Server-Sent Events for channels; resume every channel with Last-Event-ID",
        dependencies=[Depends(ready)],
        response_class=StreamingResponse,
        responses={
            200: {"content": {"text/event-stream": {}}},
            400: {"description": "malformed channel"},
            401: {"description": "no valid token"},
            403: {"description": "a channel is not allowed"},
        },
    )
    async def sse(
        request: Request,
        claims: Claims,
        channels: str = Query("", description="comma-separated channels"),
        last_event_id: str | None = Query(None, description="resume point (EventSource)"),
    ) -> Response:
        session = Session(claims, "http")
        wanted = parse_channels(channels, session, settings.stream_max_channels)
        # A reconnecting EventSource repeats the original URL: the header is newer.
        resume_from = request.headers.get("last-event-id") or last_event_id
        peer = await streams.open("sse", session, wanted, resume_from)
        return SseResponse(streams, peer, session)

    @router.get(
        "/v1/poll",
        summary="Long-poll channels: events after cursor, or wait up to timeout seconds",
        dependencies=[Depends(ready)],
        responses={
            200: {"description": '{"events": [...], "cursor": "..."}'},
            400: {"description": "malformed channel"},
            401: {"description": "no valid token"},
            403: {"description": "a channel is not allowed"},
        },
    )
    async def poll(
        claims: Claims,
        channels: str = Query("", description="comma-separated channels"),
        cursor: str | None = Query(None, description="the cursor of the previous answer"),
        timeout_s: Annotated[
            float, Query(alias="timeout", ge=0, description="seconds to wait for an event")
        ] = 25.0,
    ) -> Response:
        session = Session(claims, "http")
        wanted = parse_channels(channels, session, settings.stream_max_channels)
        peer = await streams.open("poll", session, wanted, cursor)
        try:
            if cursor is not None and not peer.queued_bytes:
                peer.wake.clear()
                wait = min(timeout_s, settings.poll_max_timeout_s, max(0.0, session.seconds_left()))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(peer.wake.wait(), wait)
            body = poll_body(peer, settings.send_queue_bytes)
        finally:
            await streams.close(peer)
        metrics = gateway.metrics
        metrics.bytes_out.labels("poll").inc(len(body))
        return Response(body, media_type="application/json")

    return router


def poll_body(peer: StreamPeer, max_bytes: int) -> bytes:
    """``{"events": […], "cursor": …}`` with what is queued. Past ``max_bytes`` a channel's
    later events are left for the next poll (the cursor stays before them); ``resync``
    frames are always included, so a channel never moves on silently."""
    events: list[str] = []
    size = 0
    deferred: set[str] = set()
    for item in peer.take():
        if item.channel in deferred:
            continue
        if item.name != "resync" and events and size + len(item.text) > max_bytes:
            if item.channel is not None:
                deferred.add(item.channel)
            continue
        peer.advance(item)
        events.append(item.text)
        size += len(item.text) + 1
    peer.metrics.delivered.labels("poll").inc(len(events))
    return f'{{"events":[{",".join(events)}],"cursor":{json.dumps(peer.cursor)}}}'.encode()
