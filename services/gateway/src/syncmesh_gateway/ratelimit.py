"""Per-connection rate limits: a token bucket per kind of frame, and a tracker that turns
sustained abuse (many refusals in a short window) into a close with 4029."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable


class TokenBucket:
    """``rate_per_s`` tokens per second, at most ``burst`` saved up; one token per frame."""

    def __init__(
        self, rate_per_s: float, burst: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate = rate_per_s
        self.burst = burst
        self._clock = clock
        self._tokens = burst
        self._at = clock()

    def take(self, cost: float = 1.0) -> bool:
        """Spend ``cost`` tokens if there are enough; ``False`` (nothing spent) if not."""
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate)
        self._at = now
        if self._tokens >= cost:
            self._tokens -= cost
            return True
        return False


class AbuseTracker:
    """Counts refusals; :meth:`refused` says when ``limit`` happened within ``window_s``."""

    def __init__(
        self, limit: int, window_s: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limit = limit
        self.window_s = window_s
        self._clock = clock
        self._times: deque[float] = deque()

    def refused(self) -> bool:
        """Record one refusal; ``True`` when the client should be disconnected."""
        now = self._clock()
        self._times.append(now)
        while self._times and self._times[0] < now - self.window_s:
            self._times.popleft()
        return len(self._times) >= self.limit
