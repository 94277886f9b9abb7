"""JetStream access of the notification service: the inbox stream ``SM_INBOX`` (one subject
per user), the read state and dedup records (KV ``sm_inbox_state``) and room membership (KV
``sm_presence``, written by the presence service). Small named operations; no rules."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from nats.js import JetStreamContext
from nats.js.api import ConsumerConfig, DeliverPolicy, PubAck
from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError, NotFoundError
from nats.js.kv import KeyValue
from pydantic import ValidationError

from syncmesh_schema import subjects as s
from syncmesh_schema.ids import user_from_token
from syncmesh_schema.notification import InboxState, Notification, SeenRecord

log = logging.getLogger(__name__)


class Store:
    def __init__(self, js: JetStreamContext, state: KeyValue, *, timeout_s: float) -> None:
        self.js = js
        self.state_kv = state
        self.timeout_s = timeout_s

    @classmethod
    async def open(cls, js: JetStreamContext, *, timeout_s: float) -> Store:
        return cls(js, await js.key_value(s.INBOX_STATE_BUCKET), timeout_s=timeout_s)

    # --- dedup records -----------------------------------------------------------------

    async def seen(self, user_id: str, notification_id: str) -> SeenRecord | None:
        try:
            entry = await self.state_kv.get(s.inbox_seen_key(user_id, notification_id))
        except KeyNotFoundError:
            return None
        if not entry.value:
            return None
        return SeenRecord.model_validate_json(entry.value)

    async def record_seen(
        self, user_id: str, notification_id: str, record: SeenRecord, ttl_s: int
    ) -> bool:
        """Create the dedup record; False when it already exists (someone was first)."""
        try:
            await self.state_kv.create(
                s.inbox_seen_key(user_id, notification_id), record.to_json_bytes(), msg_ttl=ttl_s
            )
        except KeyWrongLastSequenceError:
            return False
        return True

    # --- read state --------------------------------------------------------------------

    async def state(self, user_id: str) -> tuple[InboxState, int]:
        """The user's read state and its revision (0: none yet)."""
        try:
            entry = await self.state_kv.get(s.inbox_state_key(user_id))
        except KeyNotFoundError:
            return InboxState(), 0
        if not entry.value or entry.revision is None:
            return InboxState(), 0
        return InboxState.model_validate_json(entry.value), entry.revision

    async def save_state(self, user_id: str, state: InboxState, revision: int) -> bool:
        """Write iff still at ``revision`` (0 = create); False when it changed meanwhile."""
        key, value = s.inbox_state_key(user_id), state.to_json_bytes()
        try:
            if revision:
                await self.state_kv.update(key, value, last=revision)
            else:
                await self.state_kv.create(key, value)
        except KeyWrongLastSequenceError:
            return False
        return True

    # --- the inbox stream --------------------------------------------------------------

    async def put(self, note: Notification, msg_id: str | None, ttl_s: int | None) -> PubAck:
        headers = {"Nats-Msg-Id": msg_id} if msg_id else None
        return await self.js.publish(
            s.inbox(note.user_id),
            note.to_json_bytes(),
            stream=s.INBOX_STREAM,
            headers=headers,
            msg_ttl=ttl_s,
        )

    async def remove(self, seq: int) -> bool:
        try:
            return await self.js.delete_msg(s.INBOX_STREAM, seq)
        except NotFoundError:
            return False  # expired or deleted already

    async def scan(
        self, user_id: str, after: int, limit: int
    ) -> tuple[list[tuple[int, bytes]], bool]:
        """Up to ``limit`` messages of the user's inbox after sequence ``after``, oldest
        first, and whether more follow."""
        sub = await self.js.subscribe(
            s.inbox(user_id),
            stream=s.INBOX_STREAM,
            ordered_consumer=True,
            deliver_policy=DeliverPolicy.BY_START_SEQUENCE,
            config=ConsumerConfig(opt_start_seq=after + 1),
            inactive_threshold=max(self.timeout_s, 5.0),
        )
        out: list[tuple[int, bytes]] = []
        more = False
        try:
            info = await sub.consumer_info()
            delivered = info.delivered.consumer_seq if info.delivered else 0
            if not info.num_pending and not delivered:
                return out, False
            while len(out) < limit:
                msg = await sub.next_msg(timeout=self.timeout_s)
                meta = msg.metadata
                out.append((meta.sequence.stream, msg.data))
                more = bool(meta.num_pending)
                if not more:
                    break
        finally:
            await sub.unsubscribe()
        return out, more

    async def stored(self, user_id: str | None = None) -> dict[str, int]:
        """Messages stored per user (all users, or one)."""
        subject = s.inbox(user_id) if user_id is not None else s.INBOX_ALL
        info = await self.js.stream_info(s.INBOX_STREAM, subjects_filter=subject)
        prefix = f"{s.PREFIX}.inbox."
        return {
            user_from_token(subj.removeprefix(prefix)): n
            for subj, n in (info.state.subjects or {}).items()
        }

    # --- room membership ---------------------------------------------------------------

    async def room_members(self, room: str) -> list[str]:
        """User ids with a key ``member.<room>.<user>`` in ``sm_presence`` (none if the
        bucket or the room is unknown)."""
        try:
            kv = await self.js.key_value(s.PRESENCE_BUCKET)
        except NotFoundError:
            return []
        watcher = await kv.watch(s.presence_members(room), ignore_deletes=True, meta_only=True)
        members: list[str] = []
        try:
            async with asyncio.timeout(self.timeout_s):
                async for entry in watcher:
                    if entry is None:  # initial values done
                        break
                    token = entry.key.rsplit(".", 1)[-1]
                    with contextlib.suppress(ValueError):
                        user = user_from_token(token)
                        if user not in members:
                            members.append(user)
        finally:
            await watcher.stop()  # type: ignore[no-untyped-call]  # nats-py: unannotated
        return members


def parse(data: bytes) -> Notification | None:
    try:
        return Notification.model_validate_json(data)
    except ValidationError:
        log.warning("skipping an unreadable inbox message")
        return None
