"""JetStream access of the resolver: parked conflicts (KV ``sm_conflicts``), the resolution
log (stream ``SM_RESOLUTIONS``), inbox notifications (stream ``SM_INBOX``) and the mutation
intake (stream ``SM_MUTATIONS``). Small named operations; no business rules.

Every publish names its stream and carries a ``Nats-Msg-Id``, so a retried operation is
stored once within the dedup window; parked conflicts are created with create-if-absent
and changed with compare-and-set on the revision read.
"""

from __future__ import annotations

import asyncio
import logging

from nats.js import JetStreamContext
from nats.js.api import ConsumerConfig, DeliverPolicy
from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KeyValue
from pydantic import ValidationError

from syncmesh_schema import subjects as s
from syncmesh_schema.conflict import ManualConflict, ResolutionRecord
from syncmesh_schema.notification import Notification
from syncmesh_schema.sync import MutationIntake

log = logging.getLogger(__name__)


class Store:
    """Conflicts, resolution records, notifications and intake (see the module docstring)."""

    def __init__(self, js: JetStreamContext, conflicts: KeyValue, *, timeout_s: float) -> None:
        self.js = js
        self.conflicts_kv = conflicts
        self.timeout_s = timeout_s

    @classmethod
    async def open(cls, js: JetStreamContext, *, timeout_s: float) -> Store:
        return cls(js, await js.key_value(s.CONFLICTS_BUCKET), timeout_s=timeout_s)

    # --- parked conflicts --------------------------------------------------------------

    async def park(self, conflict: ManualConflict) -> ManualConflict:
        """Store a new conflict, or return the one already parked under its id."""
        key = s.conflict_key(conflict.conflict_id)
        try:
            await self.conflicts_kv.create(key, conflict.to_json_bytes())
        except KeyWrongLastSequenceError:
            found = await self.conflict(conflict.conflict_id)
            if found is not None:
                return found[0]
            raise
        return conflict

    async def conflict(self, conflict_id: str) -> tuple[ManualConflict, int] | None:
        """A parked conflict and its revision (the compare-and-set guard)."""
        try:
            entry = await self.conflicts_kv.get(s.conflict_key(conflict_id))
        except KeyNotFoundError:
            return None
        if not entry.value or entry.revision is None:
            return None
        return ManualConflict.model_validate_json(entry.value), entry.revision

    async def save_conflict(self, conflict: ManualConflict, revision: int) -> bool:
        """Write ``conflict`` iff it is still at ``revision``; False when it changed."""
        try:
            await self.conflicts_kv.update(
                s.conflict_key(conflict.conflict_id), conflict.to_json_bytes(), last=revision
            )
        except KeyWrongLastSequenceError:
            return False
        return True

    async def all_conflicts(self) -> list[ManualConflict]:
        """Every parked conflict, open and settled (one pass over the bucket)."""
        watcher = await self.conflicts_kv.watch("conflict.>", ignore_deletes=True)
        out: list[ManualConflict] = []
        try:
            async with asyncio.timeout(self.timeout_s):
                async for entry in watcher:
                    if entry is None:  # initial values done
                        break
                    if not entry.value:
                        continue
                    try:
                        out.append(ManualConflict.model_validate_json(entry.value))
                    except ValidationError:
                        log.error("ignoring an unreadable conflict under %s", entry.key)
        finally:
            await watcher.stop()  # type: ignore[no-untyped-call]  # nats-py: unannotated
        return out

    # --- publishing --------------------------------------------------------------------

    async def notify(self, notification: Notification, msg_id: str) -> None:
        """Into the user's durable inbox (the notification service delivers it)."""
        await self.js.publish(
            s.inbox(notification.user_id),
            notification.to_json_bytes(),
            stream=s.INBOX_STREAM,
            headers={"Nats-Msg-Id": msg_id},
        )

    async def record(self, record: ResolutionRecord, msg_id: str) -> None:
        await self.js.publish(
            s.resolution(record.collection),
            record.to_json_bytes(),
            stream=s.RESOLUTIONS_STREAM,
            headers={"Nats-Msg-Id": msg_id},
        )

    async def submit(self, intake: MutationIntake, msg_id: str) -> bool:
        """Publish a mutation to sync's intake; True when JetStream already had ``msg_id``
        (then no new message was stored, and no outcome follows from this publish)."""
        m = intake.mutation
        ack = await self.js.publish(
            s.mutation_intake(m.collection, m.doc_id),
            intake.to_json_bytes(),
            stream=s.MUTATIONS_STREAM,
            headers={"Nats-Msg-Id": msg_id},
        )
        return bool(ack.duplicate)

    # --- resolution history ------------------------------------------------------------

    async def recorded(self) -> int:
        """Resolution records kept in the stream."""
        info = await self.js.stream_info(s.RESOLUTIONS_STREAM)
        return int(info.state.messages)

    async def history(self, collection: str | None, limit: int) -> list[ResolutionRecord]:
        """The newest ``limit`` resolution records (of one collection), newest first.

        JetStream reads forwards only, so this reads sequence windows backwards from the end
        of the stream, each one larger than the last, until ``limit`` records are found or
        the stream's start is reached. A window delivers only the subjects asked for.
        """
        state = (await self.js.stream_info(s.RESOLUTIONS_STREAM)).state
        subject = s.resolution(collection) if collection else s.RESOLUTIONS_ALL
        found: list[bytes] = []
        hi, span = int(state.last_seq), max(4 * limit, 256)
        first = max(int(state.first_seq), 1)
        while state.messages and hi >= first and len(found) < limit:
            lo = max(first, hi - span + 1)
            found = [*await self._window(subject, lo, hi), *found]
            hi, span = lo - 1, span * 4
        out = []
        for data in reversed(found[-limit:]):
            try:
                out.append(ResolutionRecord.model_validate_json(data))
            except ValidationError:
                log.error("ignoring an unreadable resolution record")
        return out

    async def _window(self, subject: str, lo: int, hi: int) -> list[bytes]:
        """Payloads on ``subject`` with stream sequence in ``lo..hi``, oldest first."""
        sub = await self.js.subscribe(
            subject,
            stream=s.RESOLUTIONS_STREAM,
            ordered_consumer=True,
            deliver_policy=DeliverPolicy.BY_START_SEQUENCE,
            config=ConsumerConfig(opt_start_seq=lo),
            inactive_threshold=max(self.timeout_s, 5.0),
        )
        out: list[bytes] = []
        try:
            info = await sub.consumer_info()
            delivered = info.delivered.consumer_seq if info.delivered else 0
            if not info.num_pending and not delivered:
                return out  # nothing on the subject from lo on
            while True:
                msg = await sub.next_msg(timeout=self.timeout_s)
                meta = msg.metadata
                if meta.sequence.stream > hi:
                    break
                out.append(msg.data)
                if not meta.num_pending:
                    break
        finally:
            await sub.unsubscribe()
        return out
