"""Counters of the sync service, for ``GET /admin/stats`` and ``/metrics``."""

from __future__ import annotations

import time
from collections import deque

from prometheus_client import CollectorRegistry, Counter, Histogram


class Stats:
    """Running totals plus a one-minute window for rates and commit-latency percentiles."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.started = time.monotonic()
        self.applied = 0
        self.duplicates = 0
        self.rejected = 0
        self.manual = 0
        self.conflicts = 0
        self.recovered = 0
        self.cas_retries = 0
        self.resolver_waits = 0
        self.retries = 0
        self.deadlettered = 0
        self._window: deque[tuple[float, float]] = deque(maxlen=100_000)
        self._outcomes = Counter(
            "syncmesh_sync_mutations",
            "Mutations processed, by outcome",
            ["outcome"],
            registry=registry,
        )
        self._latency = Histogram(
            "syncmesh_sync_commit_latency_seconds",
            "Gateway acceptance to document commit",
            buckets=(0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
            registry=registry,
        )

    def add(self, counter: str) -> None:
        """Count one event (``applied``, ``duplicates``, ``rejected`` …)."""
        setattr(self, counter, getattr(self, counter) + 1)
        self._outcomes.labels(counter).inc()

    def observe_commit(self, latency_ms: float) -> None:
        self._window.append((time.monotonic(), latency_ms))
        self._latency.observe(latency_ms / 1000)

    def snapshot(self, backlog: int | None = None) -> dict[str, object]:
        now = time.monotonic()
        recent = sorted(latency for t, latency in self._window if now - t <= 60)
        span = min(60.0, max(now - self.started, 1e-9))

        def pct(p: float) -> float | None:
            return round(recent[min(len(recent) - 1, int(p * len(recent)))], 2) if recent else None

        return {
            "applied": self.applied,
            "duplicates": self.duplicates,
            "rejected": self.rejected,
            "manual": self.manual,
            "conflicts": self.conflicts,
            "recovered": self.recovered,
            "cas_retries": self.cas_retries,
            "resolver_waits": self.resolver_waits,
            "retries": self.retries,
            "deadlettered": self.deadlettered,
            "commits_per_s_1m": round(len(recent) / span, 1),
            "commit_latency_ms_1m": {"p50": pct(0.5), "p99": pct(0.99)},
            "intake_backlog": backlog,
        }
