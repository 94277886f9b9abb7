"""Cursors: opaque strings wrapping a JetStream stream sequence and the stream's epoch.

The epoch is the stream's creation time (µs), so a cursor handed out before a stream was
deleted and recreated is recognised as stale instead of being trusted (Centrifugo's
offset + epoch, notes/realtime-anchors.md §4). ``seq`` means "everything up to and including
this stream sequence has been seen"; ``seq = 0`` is the beginning of the stream.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_CURSOR_RE = re.compile(r"^([0-9a-z]{1,16})-([0-9a-z]{1,16})$")


@dataclass(frozen=True, slots=True)
class Cursor:
    epoch: int
    seq: int

    def encode(self) -> str:
        return f"{_b36(self.epoch)}-{_b36(self.seq)}"


def decode_cursor(text: str) -> Cursor | None:
    """The cursor in ``text``, or ``None`` for anything this server did not hand out."""
    match = _CURSOR_RE.fullmatch(text)
    if match is None:
        return None
    return Cursor(int(match.group(1), 36), int(match.group(2), 36))


def _b36(n: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    if n == 0:
        return "0"
    out = []
    while n:
        n, r = divmod(n, 36)
        out.append(digits[r])
    return "".join(reversed(out))
