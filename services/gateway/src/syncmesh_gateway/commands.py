"""Client commands shared by every transport (PROTOCOL.md §3): ``ping``, ``subscribe``,
``unsubscribe``, ``mutate``, ``publish``, ``presence`` / ``presence_state`` (the presence
service), ``conflict_resolve`` (the conflict-resolver), ``notifications_read`` (the
notification service). ``hello`` and ``refresh`` belong to the connection (see
``websocket.py``). Every refusal is a :class:`CommandError`."""

from __future__ import annotations

import asyncio

import nats.errors
import pydantic_core
from nats.aio.msg import Msg

from syncmesh_kit.auth import AuthError, TokenVerifier
from syncmesh_schema import subjects as s
from syncmesh_schema.auth import TokenClaims
from syncmesh_schema.base import WireModel
from syncmesh_schema.client import (
    ClientFrame,
    ConflictResolve,
    Hello,
    Member,
    Mutate,
    NotificationsRead,
    Ok,
    Ping,
    Pong,
    Presence,
    PresenceSet,
    PresenceState,
    Publish,
    Refresh,
    Subscribe,
    Subscribed,
    Unsubscribe,
    Unsubscribed,
    result_frame,
)
from syncmesh_schema.conflict import ConflictResolveReply, ConflictResolveRequest
from syncmesh_schema.notification import NotificationReadReply, NotificationReadRequest
from syncmesh_schema.presence import PresenceStateReply, PresenceStateRequest
from syncmesh_schema.rooms import RoomMessage

from .connection import Connection
from .cursors import Cursor
from .errors import CommandError
from .events import snapshot_of
from .gateway import Gateway
from .sessions import Session, now_ms
from .subscriptions import channel_ref

NOTIFICATIONS_READ_TIMEOUT_S = 10.0

PRESENCE_STATE_TIMEOUT_S = 5.0

# The resolver waits up to 30 s for sync to apply a settled conflict: outlast it.
CONFLICT_RESOLVE_TIMEOUT_S = 35.0


def verify(verifier: TokenVerifier, token: str) -> TokenClaims:
    try:
        return verifier.verify(token)
    except AuthError as exc:
        raise CommandError("unauthorized", str(exc)) from None


class Commands:
    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway

    async def run(
        self, session: Session, frame: ClientFrame, conn: Connection | None
    ) -> WireModel | asyncio.Future[WireModel] | None:
        """The reply frame; a future for ``mutate`` (its outcome comes later); ``None`` when
        the reply was already queued on ``conn`` (``subscribe``, which replays after it)."""
        g = self.gateway
        if isinstance(frame, Ping):
            return Pong(re=frame.id, server_time=now_ms())
        if isinstance(frame, Subscribe):
            if conn is not None:
                await g.subscriptions.subscribe(conn, session, frame)
                return None
            return await self.position(session, frame)
        if isinstance(frame, Unsubscribe):
            channel_ref(frame.channel)
            if conn is not None:
                reply = await g.subscriptions.unsubscribe(conn, frame.channel)
                return reply.model_copy(update={"re": frame.id})
            return Unsubscribed(re=frame.id, channel=frame.channel)
        if isinstance(frame, Mutate):
            return await self.mutate(session, frame)
        if isinstance(frame, Publish):
            return await self.publish(session, frame)
        if isinstance(frame, Hello):
            raise CommandError("bad_request", "hello is only the first frame of a WebSocket")
        if isinstance(frame, Refresh):
            claims = verify(g.runtime.verifier, frame.token)
            session.refresh(claims)
            return Ok(re=frame.id, exp=claims.exp)
        if isinstance(frame, PresenceSet):
            return await self.presence(session, frame, conn)
        if isinstance(frame, PresenceState):
            return await self.presence_state(session, frame)
        if isinstance(frame, ConflictResolve):
            # Settling can take a while (sync applies the resulting mutation): answer later,
            # like ``mutate``, so the connection keeps reading meanwhile.
            return asyncio.ensure_future(self._settle(session, frame))
        if isinstance(frame, NotificationsRead):
            return await self.notifications_read(session, frame)
        raise CommandError("bad_request", f"frame type {frame.type!r} is not a command")

    async def _ask(self, subject: str, request: WireModel, timeout_s: float, silence: str) -> Msg:
        """Core request/reply to another service; no answer → ``unavailable`` (``silence``
        says who did not answer and whether retrying is safe)."""
        try:
            return await self.gateway.runtime.nc.request(
                subject, request.to_json_bytes(), timeout=timeout_s
            )
        except (nats.errors.NoRespondersError, nats.errors.TimeoutError, TimeoutError):
            raise CommandError("unavailable", silence) from None

    async def mutate(self, session: Session, frame: Mutate) -> asyncio.Future[WireModel]:
        intake = self.gateway.intake
        m = frame.mutation
        if session.client_id is not None and m.client_id != session.client_id:
            raise CommandError(
                "bad_request",
                f"mutation.client_id {m.client_id!r} differs from this connection's "
                f"{session.client_id!r}",
            )
        entry = await intake.claim(m.client_id, session.user_id)
        try:
            return await intake.submit(session, entry, m, frame.id)
        finally:
            self.gateway.ledger.release(entry)

    async def presence(self, session: Session, frame: PresenceSet, conn: Connection | None) -> Ok:
        """Announce this connection in a room (``offline`` = leave). Readable rooms only."""
        if conn is None:
            raise CommandError(
                "bad_request", "presence belongs to a connection: send it over the WebSocket"
            )
        session.check_read(f"presence:{frame.room}")
        reporter = self.gateway.presence
        try:
            if frame.status == "offline":
                await reporter.leave(session.session_id, frame.room)
                session.presence_rooms.discard(frame.room)
            else:
                await reporter.report(
                    session.session_id, session.user_id, frame.room, frame.status, frame.meta
                )
                session.presence_rooms.add(frame.room)
        except CommandError:
            raise
        except Exception as exc:  # NATS unreachable or timed out
            raise CommandError("unavailable", "could not record presence; retry") from exc
        return Ok(re=frame.id)

    async def presence_state(self, session: Session, frame: PresenceState) -> Presence:
        """Every member of a room, gathered page by page from the presence service."""
        session.check_read(f"presence:{frame.room}")
        members: list[Member] = []
        offset: int | None = 0
        while offset is not None:
            request = PresenceStateRequest(room=frame.room, user_id=session.user_id, offset=offset)
            msg = await self._ask(
                s.PRESENCE_STATE,
                request,
                PRESENCE_STATE_TIMEOUT_S,
                "the presence service did not answer; retry",
            )
            page = PresenceStateReply.model_validate_json(msg.data)
            members.extend(page.members)
            offset = page.next_offset
        return Presence(re=frame.id, room=frame.room, members=members)

    async def _settle(self, session: Session, frame: ConflictResolve) -> WireModel:
        try:
            return await self.conflict_resolve(session, frame)
        except CommandError as exc:
            return exc.frame(frame.id)

    async def conflict_resolve(self, session: Session, frame: ConflictResolve) -> WireModel:
        """Ask the conflict-resolver to settle a parked conflict; answer the resulting
        mutation's ``result`` (or the resolver's error, e.g. ``not_found`` once settled)."""
        request = ConflictResolveRequest(
            conflict_id=frame.conflict_id,
            choice=frame.choice,
            data=frame.data,
            user_id=session.user_id,
            write=session.claims.write,
        )
        msg = await self._ask(
            s.CONFLICT_RESOLVE,
            request,
            CONFLICT_RESOLVE_TIMEOUT_S,
            "the conflict-resolver did not answer; retrying is safe",
        )
        reply = ConflictResolveReply.model_validate_json(msg.data)
        if reply.result is not None:
            return result_frame(frame.id, reply.result)
        raise CommandError(reply.error_code or "internal", reply.error_message or "not settled")

    async def notifications_read(self, session: Session, frame: NotificationsRead) -> Ok:
        """Mark the session user's notifications read (the notification service also tells
        the user's other devices, through ``inbox``); answer the new unread count."""
        request = NotificationReadRequest(
            user_id=session.user_id, ids=frame.ids or [], all=frame.all
        )
        msg = await self._ask(
            s.NOTIFICATION_READ,
            request,
            NOTIFICATIONS_READ_TIMEOUT_S,
            "the notification service did not answer; retrying is safe",
        )
        reply = NotificationReadReply.model_validate_json(msg.data)
        if reply.unread is None:
            raise CommandError(reply.error_code or "internal", reply.error_message or "not read")
        return Ok(re=frame.id, unread=reply.unread)

    async def publish(self, session: Session, frame: Publish) -> Ok:
        g = self.gateway
        ref = channel_ref(frame.channel)
        session.check_read(frame.channel)
        assert ref.room
        size = len(pydantic_core.to_json(frame.data))
        if size > g.settings.room_message_max_bytes:
            raise CommandError(
                "too_large",
                f"data is {size} bytes of JSON; at most {g.settings.room_message_max_bytes}",
            )
        message = RoomMessage(room=ref.room, user_id=session.user_id, data=frame.data, ts=now_ms())
        try:
            ack = await g.store.publish(s.room(ref.room), message.to_json_bytes(), s.ROOMS_STREAM)
            epoch = await g.store.epoch(s.ROOMS_STREAM)
        except Exception as exc:  # NATS unreachable or timed out
            raise CommandError("unavailable", "could not store the message; retry") from exc
        return Ok(re=frame.id, cursor=Cursor(epoch, ack.seq).encode())

    async def position(self, session: Session, frame: Subscribe) -> Subscribed:
        """``subscribe`` without a connection (HTTP): the channel's current cursor (and
        snapshot), a starting point for long-poll or a later WebSocket subscribe."""
        g = self.gateway
        ref = channel_ref(frame.channel)
        session.check_read(frame.channel)
        stream, _ = s.channel_source(ref, session.user_id)
        epoch, last = await g.store.position(stream)
        snapshot = None
        if frame.snapshot and ref.kind == "doc":
            assert ref.collection
            assert ref.doc_id
            found = await g.store.document(ref.collection, ref.doc_id)
            if found is not None:
                last = max(last, found[1])
            snapshot = snapshot_of(ref.collection, ref.doc_id, found[0] if found else None).dump()
        return Subscribed(
            re=frame.id,
            channel=frame.channel,
            cursor=Cursor(epoch, last).encode(),
            recovered=False,
            snapshot=snapshot,
        )
