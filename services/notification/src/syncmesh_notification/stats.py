"""Counters of the notification service (this process), for ``/admin/stats`` and ``/metrics``."""

from __future__ import annotations

from typing import Literal

from prometheus_client import CollectorRegistry, Counter

Event = Literal["sent", "delivered", "duplicate", "read", "expired", "deleted"]

EVENTS: tuple[Event, ...] = ("sent", "delivered", "duplicate", "read", "expired", "deleted")
"""``sent``: recipients asked for; ``delivered``: stored in a user's inbox (from where every
connection of the user receives it); ``duplicate``: an id the user already had; ``read``:
marked read; ``expired``: unread ones whose TTL ran out (counted when noticed); ``deleted``."""


class Stats:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.totals: dict[Event, int] = dict.fromkeys(EVENTS, 0)
        self._counter = Counter(
            "syncmesh_notifications",
            "Notifications by event (sent, delivered, duplicate, read, expired, deleted)",
            ["event"],
            registry=registry,
        )

    def add(self, event: Event, n: int = 1) -> None:
        if n:
            self.totals[event] += n
            self._counter.labels(event).inc(n)
