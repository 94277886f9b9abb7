"""``GET /v1/ws``: one task per connection reads frames in order; a writer task (see
``connection.py``) sends. ``hello`` first (10 s, else 4001), ``exp`` enforced on a timer,
``refresh`` extends it, every frame size- and rate-checked, every failure answered with an
``error`` while the connection stays usable."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from fastapi import APIRouter, WebSocket

from syncmesh_schema.auth import glob_match_any
from syncmesh_schema.client import (
    ClientFrame,
    Error,
    FrameError,
    Hello,
    Ok,
    Publish,
    Refresh,
    Welcome,
    parse_client_frame,
)
from syncmesh_schema.codes import CloseCode, ErrorCode

from .clients import ClientEntry
from .commands import Commands, verify
from .connection import Connection
from .errors import CommandError
from .gateway import Gateway
from .ratelimit import AbuseTracker, TokenBucket
from .sessions import Session, now_ms

log = logging.getLogger(__name__)


def websocket_routes(gateway: Gateway, commands: Commands) -> APIRouter:
    router = APIRouter()

    @router.websocket("/v1/ws")
    async def websocket_endpoint(ws: WebSocket) -> None:
        await WebSocketSession(gateway, commands, ws).run()

    return router


class WebSocketSession:
    """Everything about one WebSocket from accept to close."""

    def __init__(self, gateway: Gateway, commands: Commands, ws: WebSocket) -> None:
        self.gateway = gateway
        self.commands = commands
        self.ws = ws
        settings = gateway.settings
        self.settings = settings
        self.conn = Connection(ws, settings, gateway.metrics)
        self.session: Session | None = None
        self.entry: ClientEntry | None = None
        self.frames = TokenBucket(settings.frame_rate.rate_per_s, settings.frame_rate.burst)
        self.publishes = TokenBucket(settings.publish_rate.rate_per_s, settings.publish_rate.burst)
        self.abuse = AbuseTracker(settings.rate_limit_close_after, settings.rate_limit_window_s)
        self._expiry: asyncio.TimerHandle | None = None

    async def run(self) -> None:
        origins = self.settings.allowed_origins
        origin = self.ws.headers.get("origin")
        if origins is not None and origin is not None and not glob_match_any(origins, origin):
            await self.ws.close(CloseCode.FORBIDDEN)  # before accept: HTTP 403
            return
        await self.ws.accept()
        conn, metrics = self.conn, self.gateway.metrics
        conn.start()
        self.gateway.connections.add(conn)
        metrics.connections.labels(conn.transport).inc()
        try:
            if not self.gateway.ready:
                conn.send(Error(code="unavailable", message="the gateway is not ready: reconnect"))
                conn.close(CloseCode.SERVER_GOING_AWAY, "not ready")
                await conn.closed.wait()
                return
            reader = asyncio.create_task(self._read_loop())
            closed = asyncio.create_task(conn.closed.wait())
            await asyncio.wait({reader, closed}, return_when=asyncio.FIRST_COMPLETED)
            for task in (reader, closed):
                task.cancel()
            await asyncio.gather(reader, closed, return_exceptions=True)
        finally:
            if self._expiry is not None:
                self._expiry.cancel()
            if self.gateway._subscriptions is not None:
                await self.gateway.subscriptions.unsubscribe_all(conn)
            if self.session is not None:
                await self.gateway.left(self.session)
            if self.entry is not None:
                self.gateway.ledger.release(self.entry)
            self.gateway.connections.discard(conn)
            metrics.connections.labels(conn.transport).dec()
            await conn.shutdown()

    # --- reading -----------------------------------------------------------------------

    async def _read_loop(self) -> None:
        deadline = time.monotonic() + self.settings.hello_timeout_s
        while self.conn.open:
            if self.session is None:
                try:
                    message = await asyncio.wait_for(
                        self.ws.receive(), max(0.0, deadline - time.monotonic())
                    )
                except TimeoutError:
                    self._refuse(None, "unauthorized", "no valid hello within the time limit")
                    self.conn.close(CloseCode.UNAUTHORIZED, "no hello")
                    return
            else:
                message = await self.ws.receive()
            if message["type"] == "websocket.disconnect":
                return
            raw = message.get("text")
            if raw is None:
                raw = message.get("bytes") or b""
            await self._on_frame(raw)

    async def _on_frame(self, raw: str | bytes) -> None:
        conn, metrics = self.conn, self.gateway.metrics
        size = len(raw.encode() if isinstance(raw, str) else raw)
        if size > self.settings.max_frame_bytes:
            metrics.drops.labels("too_large").inc()
            self._refuse(
                None, "too_large", f"frame is {size} bytes; at most {self.settings.max_frame_bytes}"
            )
            return
        if not self.frames.take():
            self._rate_limited(None)
            return
        try:
            frame = parse_client_frame(raw)
        except FrameError as exc:
            metrics.drops.labels("bad_frame").inc()
            conn.send(Error(re=exc.frame_id, code=exc.code, message=exc.message))
            return
        metrics.frames_in.labels(frame.type).inc()
        if self.session is None:
            if isinstance(frame, Hello):
                await self._hello(frame)
            else:
                self._refuse(frame.id, "unauthorized", "send hello first")
            return
        if self.session.presence_rooms:
            # Activity keeps the connection "online" in rooms with idle detection.
            for room in self.session.presence_rooms:
                await self.gateway.presence.activity(self.session.session_id, room)
        if isinstance(frame, Publish) and not self.publishes.take():
            self._rate_limited(frame.id)
            return
        try:
            await self._command(self.session, frame)
        except CommandError as exc:
            conn.send(exc.frame(frame.id))

    async def _command(self, session: Session, frame: ClientFrame) -> None:
        if isinstance(frame, Hello):
            raise CommandError("bad_request", "already said hello on this connection")
        if isinstance(frame, Refresh):
            await self._refresh(session, frame)
            return
        reply = await self.commands.run(session, frame, self.conn)
        if isinstance(reply, asyncio.Future):
            conn = self.conn
            reply.add_done_callback(lambda done: conn.send(done.result()))
        elif reply is not None:
            self.conn.send(reply)

    def _refuse(self, re: str | None, code: ErrorCode, message: str) -> None:
        self.conn.send(Error(re=re, code=code, message=message))

    def _rate_limited(self, re: str | None) -> None:
        self.gateway.metrics.drops.labels("rate_limited").inc()
        self._refuse(re, "rate_limited", "too many frames: slow down")
        if self.abuse.refused():
            self.conn.close(CloseCode.RATE_LIMITED, "rate limited: reconnect after a delay")

    # --- session -----------------------------------------------------------------------

    async def _hello(self, frame: Hello) -> None:
        conn = self.conn
        try:
            claims = verify(self.gateway.runtime.verifier, frame.token)
        except CommandError as exc:
            self.gateway.metrics.auth_failures.inc()
            conn.send(exc.frame(frame.id))
            conn.close(CloseCode.UNAUTHORIZED, "unauthorized")
            return
        try:
            self.entry = await self.gateway.intake.claim(frame.client_id, claims.sub)
        except CommandError as exc:
            conn.send(exc.frame(frame.id))
            conn.close(CloseCode.FORBIDDEN, "client_id belongs to another user")
            return
        session = Session(claims, "ws", client_id=frame.client_id, batch=frame.batch)
        self.session = conn.session = session
        self._schedule_expiry(session)
        conn.send(
            Welcome(
                re=frame.id,
                session_id=session.session_id,
                user_id=session.user_id,
                client_id=frame.client_id,
                server_time=now_ms(),
                heartbeat_ms=self.settings.heartbeat_ms,
                max_frame_bytes=self.settings.max_frame_bytes,
                last_mutation_id=self.entry.last,
            )
        )

    async def _refresh(self, session: Session, frame: Refresh) -> None:
        claims = verify(self.gateway.runtime.verifier, frame.token)
        session.refresh(claims)
        self._schedule_expiry(session)
        for channel in await self.gateway.subscriptions.enforce(self.conn, session):
            self._refuse(
                None, "forbidden", f"the new token does not allow {channel!r}: unsubscribed"
            )
        self.conn.send(Ok(re=frame.id, exp=claims.exp))

    def _schedule_expiry(self, session: Session) -> None:
        if self._expiry is not None:
            self._expiry.cancel()
        loop = asyncio.get_running_loop()
        self._expiry = loop.call_later(max(0.0, session.seconds_left()), self._expired)

    def _expired(self) -> None:
        self.gateway.metrics.auth_failures.inc()
        with contextlib.suppress(RuntimeError):
            self._refuse(None, "unauthorized", "token expired: reconnect with a new token")
        self.conn.close(CloseCode.UNAUTHORIZED, "token expired")
