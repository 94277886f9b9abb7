"""Client ids seen by this gateway process: who owns each, which ``mutation_id`` was last
processed and which are in flight — so ``out_of_order`` is answered without a round trip to
sync, and a ``client_id`` cannot be used by two users at once on this process.

Pure bookkeeping; the client record in KV (written by sync) is the source of truth and is
re-read whenever this view says a mutation is ahead.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .errors import CommandError


@dataclass
class ClientEntry:
    client_id: str
    user_id: str
    last: int = 0
    """Highest ``mutation_id`` known to be processed (consumed)."""
    in_flight: set[int] = field(default_factory=set)
    refs: int = 0

    def next_expected(self) -> int:
        return max(self.last, max(self.in_flight, default=0)) + 1

    def learn_last(self, last: int) -> None:
        self.last = max(self.last, last)


class ClientLedger:
    """Entries live while a connection holds them or a mutation of theirs is in flight."""

    def __init__(self) -> None:
        self._entries: dict[str, ClientEntry] = {}

    def get(self, client_id: str) -> ClientEntry | None:
        return self._entries.get(client_id)

    def claim(self, client_id: str, user_id: str, *, owner: str | None, last: int) -> ClientEntry:
        """Hold ``client_id`` for ``user_id``; ``owner``/``last`` come from the client record.

        Raises ``forbidden`` when the id belongs to someone else (stored or in this process).
        """
        if owner is not None and owner != user_id:
            raise CommandError("forbidden", f"client_id {client_id!r} belongs to another user")
        entry = self._entries.get(client_id)
        if entry is not None and entry.user_id != user_id:
            raise CommandError("forbidden", f"client_id {client_id!r} is in use by another user")
        if entry is None:
            entry = self._entries[client_id] = ClientEntry(client_id, user_id)
        entry.learn_last(last)
        entry.refs += 1
        return entry

    def release(self, entry: ClientEntry) -> None:
        entry.refs -= 1
        self._forget_if_idle(entry)

    def settle(self, client_id: str, mutation_id: int, *, consumed: bool) -> None:
        """An outcome arrived: ``consumed`` for a ``result``, not for a refusal."""
        entry = self._entries.get(client_id)
        if entry is None:
            return
        entry.in_flight.discard(mutation_id)
        if consumed:
            entry.learn_last(mutation_id)
        self._forget_if_idle(entry)

    def _forget_if_idle(self, entry: ClientEntry) -> None:
        if entry.refs <= 0 and not entry.in_flight:
            self._entries.pop(entry.client_id, None)

    def __len__(self) -> int:
        return len(self._entries)
