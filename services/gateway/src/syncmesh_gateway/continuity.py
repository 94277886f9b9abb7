"""Can a channel's history since a cursor still be replayed completely? Pure rules.

JetStream never says that history was trimmed: a consumer or Direct Get from a trimmed start
simply begins at the oldest kept message (notes/nats-jetstream.md §0 trap 5, §9). So the
answer is worked out from the stream's limits and state:

* **Epoch.** A cursor from another incarnation of the stream (deleted and recreated) is stale.
* **Stream-wide limits** (``max_age``, ``max_bytes``, ``max_msgs``) remove messages oldest
  first across all subjects: nothing after the cursor is gone iff the oldest message still
  stored is at most ``cursor + 1``.
* **Per-subject limits** (``max_msgs_per_subject``) remove a subject's oldest messages once
  it holds more than the limit. A subject below the limit never lost anything; a subject at
  the limit lost nothing after the cursor iff its oldest kept message is at or before it.

Anything that cannot be proven complete is reported as not recoverable — ``recovered:
false`` is allowed, a silent partial set never is (PROTOCOL.md §2).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from .cursors import Cursor


@dataclass(frozen=True)
class StreamFacts:
    """What the recoverability decision needs to know about a stream and a filter."""

    epoch: int
    first_seq: int
    last_seq: int
    global_limits: bool
    """Whether stream-wide limits may remove messages (``max_age``/``max_bytes``/``max_msgs``)."""
    per_subject_limit: int = 0
    """``max_msgs_per_subject`` (0 = none)."""
    subject_counts: Mapping[str, int] = field(default_factory=dict)
    """Messages currently stored per subject matching the channel's filter."""

    def full_subjects(self) -> list[str]:
        """Subjects at their per-subject limit: their oldest kept message must be looked up."""
        if self.per_subject_limit <= 0:
            return []
        return [s for s, n in self.subject_counts.items() if n >= self.per_subject_limit]


def unrecoverable_reason(
    facts: StreamFacts, cursor: Cursor, oldest_by_subject: Mapping[str, int]
) -> str | None:
    """``None`` when every message after ``cursor`` is still stored, else why not.

    ``oldest_by_subject`` holds the oldest kept sequence of each of ``facts.full_subjects()``.
    """
    if cursor.epoch != facts.epoch:
        return "stream reset: the cursor belongs to an earlier incarnation of the stream"
    if cursor.seq > facts.last_seq:
        return "unknown cursor: it is ahead of the stream"
    if facts.global_limits and facts.first_seq > cursor.seq + 1:
        return "history trimmed: the oldest kept message is newer than the cursor"
    for subject in facts.full_subjects():
        oldest = oldest_by_subject.get(subject)
        if oldest is None or oldest > cursor.seq:
            return "history trimmed: a subject of the channel lost messages after the cursor"
    return None
