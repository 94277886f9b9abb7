"""Counters and gauges of the presence service, for ``GET /admin/stats`` and ``/metrics``."""

from __future__ import annotations

import time
from collections import deque

from prometheus_client import CollectorRegistry, Counter, Gauge

from .roster import Roster


class Stats:
    """Event totals plus a one-minute window for joins/leaves per second."""

    def __init__(self, registry: CollectorRegistry, roster: Roster) -> None:
        self.started = time.monotonic()
        self.totals = {"join": 0, "leave": 0, "status": 0}
        self._window: deque[tuple[float, str]] = deque(maxlen=200_000)
        self._events = Counter(
            "syncmesh_presence_events",
            "Presence events published, by kind",
            ["kind"],
            registry=registry,
        )
        rooms = Gauge("syncmesh_presence_rooms", "Rooms with members", registry=registry)
        rooms.set_function(lambda: len(roster.rooms))
        members = Gauge("syncmesh_presence_members", "Members over all rooms", registry=registry)
        members.set_function(roster.member_count)
        rate = Gauge(
            "syncmesh_presence_rate_per_second",
            "Events per second over the last minute, by kind",
            ["kind"],
            registry=registry,
        )
        for kind in ("join", "leave", "status"):
            rate.labels(kind).set_function(lambda k=kind: self.rate(k))  # type: ignore[misc]

    def add(self, kind: str) -> None:
        self.totals[kind] += 1
        self._window.append((time.monotonic(), kind))
        self._events.labels(kind).inc()

    def rate(self, kind: str, window_s: float = 60.0) -> float:
        now = time.monotonic()
        span = min(window_s, max(now - self.started, 1e-3))
        return round(sum(1 for t, k in self._window if k == kind and now - t <= span) / span, 3)

    def snapshot(self) -> dict[str, object]:
        return {
            "events": dict(self.totals),
            "joins_per_second": self.rate("join"),
            "leaves_per_second": self.rate("leave"),
            "status_per_second": self.rate("status"),
        }
