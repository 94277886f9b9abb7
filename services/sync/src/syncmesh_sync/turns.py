"""Whose turn it is: wake the holder of a client's next mutation as soon as the one before
it is recorded — by this process or, via a core NATS announcement, by another one.

Several sync processes share the intake consumer, so one client's mutations are spread over
them; without this, a mutation ahead of its turn could only be put back and retried later.
Announcements are at-most-once, so waiters also look again on a short timer.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict


class ClientTurns:
    """Highest known ``last_mutation_id`` per client, with waiters."""

    def __init__(self, max_clients: int = 100_000) -> None:
        self._last: dict[str, int] = {}
        self._events: defaultdict[str, asyncio.Event] = defaultdict(asyncio.Event)
        self._max = max_clients

    def advanced(self, client_id: str, last: int) -> None:
        if last > self._last.get(client_id, 0):
            if len(self._last) >= self._max:
                self._last.clear()  # bounded; an empty map only costs a look at the KV
            self._last[client_id] = last
        event = self._events.pop(client_id, None)
        if event is not None:
            event.set()

    async def wait(self, client_id: str, last_at_least: int, wait_s: float) -> bool:
        """Until ``client_id`` is known to have reached ``last_at_least`` or ``wait_s`` passes;
        returns whether it was announced (callers re-read the record either way)."""
        if self._last.get(client_id, 0) >= last_at_least:
            return True
        event = self._events[client_id]
        try:
            await asyncio.wait_for(event.wait(), wait_s)
        except TimeoutError:
            return False
        return self._last.get(client_id, 0) >= last_at_least
