"""The notification service's operations, shared by the HTTP API and the bus subscriber.

Exactly once per (user, id). A send first looks up the dedup record ``seen.<user>.<id>``
(KV, kept ``seen_ttl_s``): present → a duplicate, nothing is stored. Otherwise the
notification is published with ``Nats-Msg-Id`` (which absorbs concurrent and quickly retried
sends within the stream's window), then the dedup record is created (create-if-absent: only
one sender wins and adds it to the unread state). A crash between the publish and the record
and a retry after the JetStream window is the one case that stores twice.

Read state: one record per user (``state.<user>``), changed with compare-and-set. Every
change of the unread count by a read or delete also puts a small ``read_state`` message on
the user's inbox subject (``Nats-TTL`` ``read_state_ttl_s``); the gateway delivers it like
any notification, so every device of the user learns the new count.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import nats.errors
from pydantic import ValidationError

from syncmesh_kit.runtime import ServiceRuntime
from syncmesh_schema.ids import user_token
from syncmesh_schema.notification import (
    READ_STATE_KIND,
    InboxEntry,
    InboxState,
    Notification,
    NotificationItem,
    NotificationPage,
    NotificationReadReply,
    NotificationReadRequest,
    NotificationSend,
    NotificationSendReply,
    ReadStateData,
    SeenRecord,
)

from . import inbox
from .errors import (
    ConflictError,
    NotificationError,
    NotificationNotFoundError,
    UnavailableError,
)
from .settings import NotificationSettings
from .stats import Stats
from .store import Store, parse

log = logging.getLogger(__name__)

SCAN_PAGE = 500


def now_ms() -> int:
    return int(time.time() * 1000)


def msg_id(user_id: str, notification_id: str) -> str:
    return f"notification:{user_token(user_id)}:{user_token(notification_id)}"


@contextmanager
def jetstream(what: str) -> Iterator[None]:
    """NATS failures (timeouts, no responders, reconnecting) → ``unavailable``."""
    try:
        yield
    except (nats.errors.Error, TimeoutError) as exc:
        raise UnavailableError(f"{what}: NATS did not answer ({type(exc).__name__})") from exc


class NotificationService:
    def __init__(self, settings: NotificationSettings, runtime: ServiceRuntime) -> None:
        self.settings = settings
        self.stats = Stats(runtime.registry)
        self._store: Store | None = None
        runtime.on_start.append(self.start)

    async def start(self, runtime: ServiceRuntime) -> None:
        self._store = await Store.open(runtime.js, timeout_s=self.settings.nats.request_timeout_s)

    @property
    def store(self) -> Store:
        if self._store is None:
            raise UnavailableError("not connected to NATS yet")
        return self._store

    # --- send --------------------------------------------------------------------------

    async def send(self, body: NotificationSend) -> NotificationSendReply:
        detail = None
        if body.room is not None:
            with jetstream("room members"):
                users = await self.store.room_members(body.room)
            if not users:
                detail = (
                    f"room {body.room!r} has no known members (membership comes from the "
                    "presence service's KV bucket sm_presence)"
                )
        else:
            users = list(dict.fromkeys(body.user_ids or []))
        notification_id = body.id or uuid.uuid4().hex
        duplicates = 0
        for user in users:
            self.stats.add("sent")
            if not await self.send_one(user, notification_id, body):
                duplicates += 1
        return NotificationSendReply(
            ids=[notification_id] * len(users), user_ids=users, duplicates=duplicates, detail=detail
        )

    async def send_one(self, user_id: str, notification_id: str, body: NotificationSend) -> bool:
        """Store one notification for one user; False when the user already had the id."""
        with jetstream("send"):
            if await self.store.seen(user_id, notification_id) is not None:
                self.stats.add("duplicate")
                return False
            created = now_ms()
            expires = created + body.ttl_s * 1000 if body.ttl_s else None
            note = Notification(
                id=notification_id,
                kind=body.kind,
                title=body.title,
                body=body.body,
                data=body.data,
                link=body.link,
                priority=body.priority,
                created_at=created,
                user_id=user_id,
                expires_at=expires,
            )
            ack = await self.store.put(note, msg_id(user_id, notification_id), body.ttl_s)
            record = SeenRecord(seq=ack.seq, created_at=created, expires_at=expires)
            if not await self.store.record_seen(
                user_id, notification_id, record, self.settings.seen_ttl_s
            ):
                self.stats.add("duplicate")
                return False
        entry = InboxEntry(id=notification_id, seq=ack.seq, expires_at=expires)
        cap = self.settings.unread_max
        await self._change(user_id, lambda st, now: inbox.add(st, entry, now, cap))
        self.stats.add("delivered")
        return True

    # --- read state --------------------------------------------------------------------

    async def _change(
        self, user_id: str, rule: Callable[[InboxState, int], inbox.Change]
    ) -> inbox.Change:
        """Apply ``rule`` to the user's read state with compare-and-set."""
        for _ in range(self.settings.cas_attempts):
            with jetstream("read state"):
                state, revision = await self.store.state(user_id)
                change = rule(state, now_ms())
                if change.state == state:
                    return change
                if await self.store.save_state(user_id, change.state, revision):
                    self.stats.add("expired", change.expired)
                    return change
        raise ConflictError(f"the read state of {user_id!r} kept changing; retry")

    async def unread(self, user_id: str) -> int:
        with jetstream("read state"):
            state, _ = await self.store.state(user_id)
        return inbox.unread_count(state, now_ms())

    async def mark_read(self, user_id: str, ids: list[str], everything: bool) -> int:
        """Mark ``ids`` (or everything) read; the new unread count."""
        if everything:
            change = await self._change(user_id, inbox.mark_all)
        else:
            change = await self._change(user_id, lambda st, now: inbox.mark(st, ids, now))
        if change.read:
            self.stats.add("read", len(change.read))
            await self._announce(
                user_id, ReadStateData(unread=change.unread, ids=change.read, all=everything)
            )
        return change.unread

    async def delete(self, user_id: str, notification_id: str) -> int:
        with jetstream("delete"):
            record = await self.store.seen(user_id, notification_id)
            if record is None:
                raise NotificationNotFoundError(f"no notification {notification_id!r}")
            await self.store.remove(record.seq)
        change = await self._change(user_id, lambda st, now: inbox.forget(st, notification_id, now))
        self.stats.add("deleted")
        await self._announce(
            user_id,
            ReadStateData(unread=change.unread, ids=[notification_id], deleted=True),
        )
        return change.unread

    async def _announce(self, user_id: str, data: ReadStateData) -> None:
        """Tell the user's devices (through the inbox) the new unread count."""
        note = Notification(
            id=f"read-state-{uuid.uuid4().hex}",
            kind=READ_STATE_KIND,
            title="",
            data=data.dump(),
            priority="low",
            created_at=now_ms(),
            read=True,
            user_id=user_id,
        )
        with jetstream("read-state message"):
            await self.store.put(note, None, self.settings.read_state_ttl_s)

    async def read_request(self, raw: bytes) -> NotificationReadReply:
        """``sm.notification.read`` from the gateway."""
        try:
            request = NotificationReadRequest.model_validate_json(raw)
        except ValidationError as exc:
            return NotificationReadReply(error_code="bad_request", error_message=str(exc))
        try:
            unread = await self.mark_read(request.user_id, request.ids, request.all)
        except NotificationError as exc:
            return NotificationReadReply(error_code=exc.code, error_message=str(exc))
        return NotificationReadReply(unread=unread)

    # --- listing -----------------------------------------------------------------------

    async def page(
        self, user_id: str, *, after: int, limit: int, unread_only: bool
    ) -> NotificationPage:
        """Notifications oldest first after ``after`` (a ``seq``), unexpired, read-state
        messages left out."""
        with jetstream("list"):
            state, _ = await self.store.state(user_id)
            now = now_ms()
            unread_ids = {e.id for e in inbox.live(state, now)[0]}
            items: list[NotificationItem] = []
            more = True
            while more and len(items) < limit:
                batch, more = await self.store.scan(user_id, after, SCAN_PAGE)
                for seq, data in batch:
                    after = seq
                    note = parse(data)
                    if note is None or note.kind == READ_STATE_KIND:
                        continue
                    if note.expires_at is not None and note.expires_at <= now:
                        continue
                    is_unread = note.id in unread_ids
                    if unread_only and not is_unread:
                        continue
                    items.append(
                        NotificationItem.model_validate(
                            {**note.model_dump(), "read": not is_unread, "seq": seq}
                        )
                    )
                    if len(items) >= limit:
                        more = more or seq != batch[-1][0]
                        break
        return NotificationPage(
            items=items, next=items[-1].seq if more and items else None, unread=len(unread_ids)
        )
