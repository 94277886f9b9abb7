"""Channel hubs: one live NATS subscription per channel per gateway process, fanned out to
the local connections subscribed to it.

A hub keeps the channel's **position** (the last stream sequence it delivered) and delivers
strictly increasing sequences, so every subscriber sees the same total order. Each event is
encoded once and the same string is queued on every connection.

Republished feeds are at-most-once, so every message is checked against
``Nats-Last-Sequence`` (the previous sequence on its subject):

* previous sequence after the position → messages were missed that can still be delivered in
  order: they are read from the stream (``(position, seq)``) and delivered first;
* previous sequence at or before the position but not the one this hub delivered → a message
  was missed *behind* events already delivered (possible on ``collection:`` channels):
  order cannot be repaired, so subscribers get ``resync``.

A connection joins through a :class:`Membership` that buffers live events while its replay
is read (subscribe live first, buffer, fetch history, drop buffered ≤ last history sequence —
notes/nats-jetstream.md §9).
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from typing import TYPE_CHECKING

from syncmesh_schema.channels import ChannelRef
from syncmesh_schema.client import Resync

from .cursors import Cursor
from .events import StoredMsg, event_for
from .feeds import Feed, start_feed
from .metrics import GatewayMetrics
from .settings import GatewaySettings
from .store import HistoryTooLong, Store

if TYPE_CHECKING:
    from .connection import Peer

log = logging.getLogger(__name__)

MAX_TRACKED_SUBJECTS = 100_000


class Membership:
    """One connection on one hub: events after ``skip_upto``, buffered until :meth:`go_live`."""

    def __init__(self, hub: Hub, conn: Peer, skip_upto: int) -> None:
        self.hub = hub
        self.conn = conn
        self.skip_upto = skip_upto
        self.buffer: list[tuple[int, str]] | None = []

    def offer(self, seq: int, text: str) -> None:
        if seq <= self.skip_upto:
            return
        if self.buffer is not None:
            self.buffer.append((seq, text))
        else:
            self.conn.send_text(text)

    def go_live(self) -> None:
        """Deliver what was buffered (after ``skip_upto``) and pass live events straight on."""
        buffered, self.buffer = self.buffer or [], None
        for seq, text in buffered:
            if seq > self.skip_upto:
                self.conn.send_text(text)


class Hub:
    """See the module docstring."""

    def __init__(
        self,
        ref: ChannelRef,
        channel: str,
        stream: str,
        filter_subject: str,
        store: Store,
        settings: GatewaySettings,
        metrics: GatewayMetrics,
    ) -> None:
        self.ref = ref
        self.channel = channel
        self.stream = stream
        self.filter_subject = filter_subject
        self.store = store
        self.settings = settings
        self.metrics = metrics
        self.members: set[Membership] = set()
        self.refs = 0
        self.epoch = 0
        self.position = 0
        self._start = 0
        self._last_by_subject: OrderedDict[str, int] = OrderedDict()
        self._inbox: asyncio.Queue[StoredMsg] = asyncio.Queue()
        self._feed: Feed | None = None
        self._task: asyncio.Task[None] | None = None

    def cursor(self, seq: int) -> str:
        return Cursor(self.epoch, seq).encode()

    async def start(self) -> None:
        self._feed, self.epoch, self.position = await start_feed(
            self.store, self.ref, self.stream, self.filter_subject, self._inbox.put_nowait
        )
        self._start = self.position
        self._task = asyncio.create_task(self._run(), name=f"hub-{self.filter_subject}")

    async def stop(self) -> None:
        if self._feed is not None:
            await self._feed.stop()
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    def attach(self, conn: Peer) -> Membership:
        """Join at the current position (synchronously: no event can slip in between)."""
        member = Membership(self, conn, self.position)
        self.members.add(member)
        return member

    def detach(self, member: Membership) -> None:
        self.members.discard(member)

    # --- live path ---------------------------------------------------------------------

    async def _run(self) -> None:
        while True:
            msg = await self._inbox.get()
            try:
                await self._process(msg)
            except asyncio.CancelledError:
                raise
            except Exception:  # one bad message or a failed refill must not stop the channel
                log.exception("hub %s failed on message %d", self.channel, msg.seq)
                self._resync("the gateway could not read the channel's history")
                self._advance(msg)

    async def _process(self, msg: StoredMsg) -> None:
        if msg.seq <= self.position:
            return  # already delivered (refilled earlier) or before this hub started
        prev = msg.prev_seq
        if prev is not None:
            if prev > self.position:
                await self._refill(msg)
            else:
                known = self._last_by_subject.get(msg.subject)
                if (known is not None and prev != known) or (known is None and prev > self._start):
                    self._resync("a change was missed")
        self._emit(msg)

    async def _refill(self, msg: StoredMsg) -> None:
        """Messages missed on the republish, read from the stream, delivered in order."""
        self.metrics.gap_refills.inc()
        try:
            missed = await self.store.history(
                self.stream,
                self.filter_subject,
                after=self.position,
                up_to=msg.seq - 1,
                limit=self.settings.replay_max_events,
                page=self.settings.replay_batch,
            )
        except HistoryTooLong:
            self._resync("too many changes were missed")
            return
        for missed_msg in missed:
            self._emit(missed_msg)
        if msg.prev_seq is not None and self._last_by_subject.get(msg.subject) != msg.prev_seq:
            self._resync("a missed change is no longer stored")

    def _emit(self, msg: StoredMsg) -> None:
        self._advance(msg)
        event = event_for(self.ref.kind, self.channel, msg, self.cursor(msg.seq))
        if event is None:
            return
        text = event.to_json_bytes().decode()
        for member in list(self.members):
            member.offer(msg.seq, text)

    def _advance(self, msg: StoredMsg) -> None:
        self.position = max(self.position, msg.seq)
        self._last_by_subject[msg.subject] = msg.seq
        self._last_by_subject.move_to_end(msg.subject)
        if len(self._last_by_subject) > MAX_TRACKED_SUBJECTS:
            self._last_by_subject.popitem(last=False)

    def _resync(self, reason: str) -> None:
        log.warning("channel %s lost continuity: %s", self.channel, reason)
        text = Resync(channel=self.channel, reason=reason).to_json_bytes().decode()
        for member in list(self.members):
            self.metrics.resyncs.inc()
            member.conn.send_text(text)


class Hubs:
    """Hubs by source (stream filter subject), created on first use, stopped when unused."""

    def __init__(self, store: Store, settings: GatewaySettings, metrics: GatewayMetrics) -> None:
        self.store = store
        self.settings = settings
        self.metrics = metrics
        self._hubs: dict[str, Hub] = {}
        self._lock = asyncio.Lock()

    async def acquire(self, ref: ChannelRef, channel: str, stream: str, filter_subject: str) -> Hub:
        async with self._lock:
            hub = self._hubs.get(filter_subject)
            if hub is None:
                hub = Hub(
                    ref, channel, stream, filter_subject, self.store, self.settings, self.metrics
                )
                await hub.start()
                self._hubs[filter_subject] = hub
                self.metrics.subscriptions.set(len(self._hubs))
            hub.refs += 1
            return hub

    async def release(self, hub: Hub) -> None:
        async with self._lock:
            hub.refs -= 1
            if hub.refs > 0 or self._hubs.get(hub.filter_subject) is not hub:
                return
            del self._hubs[hub.filter_subject]
            self.metrics.subscriptions.set(len(self._hubs))
        await hub.stop()

    def subscribers_by_channel(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for hub in self._hubs.values():
            out[hub.channel] = out.get(hub.channel, 0) + len(hub.members)
        return out

    async def stop(self) -> None:
        async with self._lock:
            hubs, self._hubs = list(self._hubs.values()), {}
        for hub in hubs:
            await hub.stop()
