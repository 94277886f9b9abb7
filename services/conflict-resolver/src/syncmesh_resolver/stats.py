"""Counters of the resolver service, for ``GET /admin/stats`` and ``/metrics``.

Counts are per process (like every service's stats); the stream and bucket figures in the
stats answer are shared by all resolver instances.
"""

from __future__ import annotations

from collections import Counter

import prometheus_client
from prometheus_client import CollectorRegistry


class Stats:
    """Resolutions by strategy and outcome, settled conflicts by choice, errors by code."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.by_strategy: Counter[str] = Counter()
        self.by_outcome: Counter[str] = Counter()
        self.settled_by_choice: Counter[str] = Counter()
        self.errors: Counter[str] = Counter()
        self._resolved = prometheus_client.Counter(
            "syncmesh_conflicts_resolved",
            "Conflicts resolved, by the strategy that decided",
            ["strategy"],
            registry=registry,
        )
        self._outcomes = prometheus_client.Counter(
            "syncmesh_conflict_outcomes",
            "Resolve requests answered, by outcome (resolved, rejected, manual)",
            ["outcome"],
            registry=registry,
        )
        self._settled = prometheus_client.Counter(
            "syncmesh_conflicts_settled",
            "Parked manual conflicts settled by a person, by choice",
            ["choice"],
            registry=registry,
        )
        self._errors = prometheus_client.Counter(
            "syncmesh_resolver_errors",
            "Requests answered with an error, by operation and code",
            ["operation", "code"],
            registry=registry,
        )

    def resolved(self, strategy: str, outcome: str) -> None:
        self.by_strategy[strategy] += 1
        self.by_outcome[outcome] += 1
        self._resolved.labels(strategy).inc()
        self._outcomes.labels(outcome).inc()

    def settled(self, choice: str) -> None:
        self.settled_by_choice[choice] += 1
        self._settled.labels(choice).inc()

    def error(self, operation: str, code: str) -> None:
        self.errors[f"{operation}:{code}"] += 1
        self._errors.labels(operation, code).inc()

    def snapshot(self) -> dict[str, object]:
        return {
            "resolved": sum(self.by_strategy.values()),
            "by_strategy": dict(sorted(self.by_strategy.items())),
            "by_outcome": dict(sorted(self.by_outcome.items())),
            "settled_by_choice": dict(sorted(self.settled_by_choice.items())),
            "errors": dict(sorted(self.errors.items())),
        }
