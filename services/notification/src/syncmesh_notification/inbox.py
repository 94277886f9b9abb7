"""Read-state rules over :class:`~syncmesh_schema.notification.InboxState`. Pure.

The state holds the user's *unread* notifications (id, stream sequence, expiry), oldest
first; everything else the user was sent counts as read. Expired entries are pruned on every
change (the stream drops the message itself through ``Nats-TTL``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from syncmesh_schema.notification import InboxEntry, InboxState


@dataclass(frozen=True)
class Change:
    """A new state and what happened on the way there."""

    state: InboxState
    read: list[str] = field(default_factory=list)
    expired: int = 0
    dropped: int = 0

    @property
    def unread(self) -> int:
        return len(self.state.unread)


def live(state: InboxState, now: int) -> tuple[list[InboxEntry], int]:
    """Unexpired unread entries, and how many had expired."""
    kept = [e for e in state.unread if e.expires_at is None or e.expires_at > now]
    return kept, len(state.unread) - len(kept)


def unread_count(state: InboxState, now: int) -> int:
    return len(live(state, now)[0])


def _with(state: InboxState, unread: list[InboxEntry], read: int, expired: int) -> InboxState:
    return InboxState(
        unread=unread,
        read_total=state.read_total + read,
        expired_total=state.expired_total + expired,
    )


def add(state: InboxState, entry: InboxEntry, now: int, cap: int) -> Change:
    """Record a newly stored notification as unread (idempotent per id)."""
    kept, expired = live(state, now)
    if any(e.id == entry.id for e in kept):
        return Change(_with(state, kept, 0, expired), expired=expired)
    kept = sorted([*kept, entry], key=lambda e: e.seq)
    dropped = max(0, len(kept) - cap)
    return Change(_with(state, kept[dropped:], 0, expired), expired=expired, dropped=dropped)


def mark(state: InboxState, ids: list[str], now: int) -> Change:
    """Mark ``ids`` read; ids that are unknown or already read are ignored."""
    kept, expired = live(state, now)
    wanted = set(ids)
    read = [e.id for e in kept if e.id in wanted]
    rest = [e for e in kept if e.id not in wanted]
    return Change(_with(state, rest, len(read), expired), read=read, expired=expired)


def mark_all(state: InboxState, now: int) -> Change:
    kept, expired = live(state, now)
    return Change(_with(state, [], len(kept), expired), read=[e.id for e in kept], expired=expired)


def forget(state: InboxState, notification_id: str, now: int) -> Change:
    """Drop a deleted notification; ``read`` names it when it was unread."""
    kept, expired = live(state, now)
    rest = [e for e in kept if e.id != notification_id]
    gone = [notification_id] if len(rest) != len(kept) else []
    return Change(_with(state, rest, 0, expired), read=gone, expired=expired)
