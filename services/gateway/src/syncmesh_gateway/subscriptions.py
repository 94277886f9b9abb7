"""``subscribe`` / ``unsubscribe``: authorise, join the channel's hub, replay what a cursor
missed (or say ``recovered: false``), then go live — in that order on the connection:
``subscribed``, the missed events, the live ones."""

from __future__ import annotations

import logging

from syncmesh_schema import subjects as s
from syncmesh_schema.channels import ChannelRef, parse_channel
from syncmesh_schema.client import DocSnapshot, Subscribe, Subscribed, Unsubscribed

from .connection import Peer
from .continuity import unrecoverable_reason
from .cursors import Cursor, decode_cursor
from .errors import CommandError
from .events import StoredMsg, event_for, snapshot_of
from .hubs import Hub, Hubs
from .sessions import Session
from .settings import GatewaySettings
from .store import HistoryTooLong, Store

log = logging.getLogger(__name__)


def channel_ref(channel: str) -> ChannelRef:
    try:
        return parse_channel(channel)
    except ValueError as exc:
        raise CommandError("bad_request", str(exc)) from None


class Subscriptions:
    def __init__(self, hubs: Hubs, store: Store, settings: GatewaySettings) -> None:
        self.hubs = hubs
        self.store = store
        self.settings = settings

    async def subscribe(self, conn: Peer, session: Session, frame: Subscribe) -> None:
        """Answer ``subscribed`` (then replay) on ``conn``; raises :class:`CommandError`."""
        channel = frame.channel
        ref = channel_ref(channel)
        session.check_read(channel)
        if channel in conn.subscriptions:
            await self.unsubscribe(conn, channel)
        stream, filter_subject = s.channel_source(ref, session.user_id)
        hub = await self.hubs.acquire(ref, channel, stream, filter_subject)
        member = hub.attach(conn)
        conn.subscriptions[channel] = member
        try:
            joined_at = member.skip_upto
            wanted = decode_cursor(frame.cursor) if frame.cursor is not None else None
            mailbox = ref.kind == "inbox" and frame.cursor is None
            if mailbox:  # PROTOCOL.md §5: the inbox without a cursor = every stored one
                wanted = Cursor(hub.epoch, 0)
            history: list[StoredMsg] | None = None
            if wanted is not None:
                history = await self._history(hub, wanted, joined_at, check=not mailbox)
            snapshot: DocSnapshot | None = None
            if history is not None and wanted is not None:
                recovered = not mailbox
                member.skip_upto = max(joined_at, wanted.seq)
                position = wanted.seq if history else member.skip_upto
            else:
                recovered = False
                _, last = await self.store.position(stream)
                position = max(joined_at, last)
                if frame.snapshot and ref.kind == "doc":
                    assert ref.collection
                    assert ref.doc_id
                    found = await self.store.document(ref.collection, ref.doc_id)
                    if found is not None:
                        position = max(position, found[1])
                    snapshot = snapshot_of(ref.collection, ref.doc_id, found[0] if found else None)
                member.skip_upto = position
            conn.send(
                Subscribed(
                    re=frame.id,
                    channel=channel,
                    cursor=hub.cursor(position),
                    recovered=recovered,
                    snapshot=snapshot.dump() if snapshot else None,
                )
            )
            for msg in history or []:
                event = event_for(ref.kind, channel, msg, hub.cursor(msg.seq))
                if event is not None:
                    conn.send(event)
            member.go_live()
        except BaseException:
            await self.unsubscribe(conn, channel)
            raise

    async def _history(
        self, hub: Hub, wanted: Cursor, up_to: int, *, check: bool
    ) -> list[StoredMsg] | None:
        """Every message after ``wanted`` up to ``up_to``, or ``None`` if that cannot be
        complete (trimmed history, another stream incarnation, unknown cursor, too many)."""
        if check:
            facts = await self.store.facts(hub.stream, hub.filter_subject)
            oldest = {
                subject: seq
                for subject in facts.full_subjects()
                if (seq := await self.store.oldest_seq(hub.stream, subject)) is not None
            }
            reason = unrecoverable_reason(facts, wanted, oldest)
            if reason is not None:
                log.debug("not recovering %s from %s: %s", hub.channel, wanted, reason)
                return None
        elif wanted.epoch != hub.epoch:
            return None
        if wanted.seq >= up_to:
            return []
        try:
            return await self.store.history(
                hub.stream,
                hub.filter_subject,
                after=wanted.seq,
                up_to=up_to,
                limit=self.settings.replay_max_events,
                page=self.settings.replay_batch,
            )
        except HistoryTooLong:
            return None

    async def unsubscribe(self, conn: Peer, channel: str) -> Unsubscribed:
        member = conn.subscriptions.pop(channel, None)
        if member is not None:
            member.hub.detach(member)
            await self.hubs.release(member.hub)
        return Unsubscribed(channel=channel)

    async def unsubscribe_all(self, conn: Peer) -> None:
        for channel in list(conn.subscriptions):
            await self.unsubscribe(conn, channel)

    async def enforce(self, conn: Peer, session: Session) -> list[str]:
        """After a token refresh: drop the channels the new token no longer allows."""
        dropped = [c for c in conn.subscriptions if not session.claims.may_read(c)]
        for channel in dropped:
            await self.unsubscribe(conn, channel)
        return dropped
