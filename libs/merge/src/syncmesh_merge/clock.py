"""Hybrid logical clock and the `(hlc, client_id)` stamps that order writers."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import NamedTuple

from syncmesh_merge.errors import ClockError

__all__ = ["HLC", "Stamp"]

_WALL_DIGITS = 18
_COUNTER_DIGITS = 4
_MAX_WALL = 10**_WALL_DIGITS - 1
_MAX_COUNTER = 10**_COUNTER_DIGITS - 1
_ENCODED = re.compile(r"\A(\d{18}):(\d{4})\Z")


def _check_int(value: object, name: str, upper: int) -> int:
    if type(value) is not int or not 0 <= value <= upper:
        raise ClockError(f"{name} must be an integer in 0..{upper}, got {value!r}")
    return value


@dataclass(frozen=True, order=True)
class HLC:
    """A hybrid logical clock value: wall time in ms plus a counter for events within one ms.

    Pure: `now` and `update` return the next value and never read the system clock; the
    caller passes its physical time. Values order by (wall_ms, counter), and `encode()`
    gives a fixed-width string ("000001732290000000:0001") whose lexicographic order is the
    same, so encoded stamps can be compared or sorted as strings.
    """

    wall_ms: int
    counter: int = 0

    def __post_init__(self) -> None:
        _check_int(self.wall_ms, "wall_ms", _MAX_WALL)
        _check_int(self.counter, "counter", _MAX_COUNTER)

    def _tick(self, wall_ms: int, counter: int) -> HLC:
        # The counter has 4 digits; on overflow borrow the next millisecond, which keeps the
        # clock strictly increasing and its encoding sortable.
        if counter > _MAX_COUNTER:
            return HLC(wall_ms + 1, 0)
        return HLC(wall_ms, counter)

    def now(self, physical_ms: int) -> HLC:
        """The clock value for a local event (send or write) at `physical_ms`."""
        _check_int(physical_ms, "physical_ms", _MAX_WALL)
        if physical_ms > self.wall_ms:
            return HLC(physical_ms, 0)
        return self._tick(self.wall_ms, self.counter + 1)

    def update(self, remote: HLC, physical_ms: int, *, max_drift_ms: int | None = None) -> HLC:
        """The clock value after receiving `remote` at `physical_ms`; greater than both.

        With `max_drift_ms`, a remote clock further ahead of `physical_ms` than that raises
        ClockError instead of dragging this clock into the future.
        """
        _check_int(physical_ms, "physical_ms", _MAX_WALL)
        if max_drift_ms is not None and remote.wall_ms - physical_ms > max_drift_ms:
            raise ClockError(
                f"remote clock {remote.encode()!r} is more than {max_drift_ms} ms ahead of "
                f"physical time {physical_ms}"
            )
        wall = max(self.wall_ms, remote.wall_ms, physical_ms)
        if wall == self.wall_ms and wall == remote.wall_ms:
            return self._tick(wall, max(self.counter, remote.counter) + 1)
        if wall == self.wall_ms:
            return self._tick(wall, self.counter + 1)
        if wall == remote.wall_ms:
            return self._tick(wall, remote.counter + 1)
        return HLC(wall, 0)

    def encode(self) -> str:
        """Fixed-width text form; lexicographic order equals clock order."""
        return f"{self.wall_ms:0{_WALL_DIGITS}d}:{self.counter:0{_COUNTER_DIGITS}d}"

    @classmethod
    def decode(cls, text: object) -> HLC:
        """Parse `encode()`'s output; ClockError for anything else."""
        match = _ENCODED.match(text) if isinstance(text, str) else None
        if match is None:
            raise ClockError(f"not an encoded hybrid logical clock: {text!r}")
        return cls(int(match.group(1)), int(match.group(2)))

    def __str__(self) -> str:
        return self.encode()


class Stamp(NamedTuple):
    """Who wrote when: compared as `(hlc, client_id)`, so equal clocks tie-break on the id."""

    hlc: HLC
    client_id: str
