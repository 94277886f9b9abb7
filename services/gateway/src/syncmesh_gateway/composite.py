"""Composite cursors: one opaque string holding a position for every channel of an SSE
stream or a long-poll (a single ``Last-Event-ID`` resumes them all — Mercure's hub-wide
event id, notes/realtime-anchors.md §4). Pure.

Format: entries ``<tag>_<cursor>`` joined by ``.``, where ``tag`` is a short hash of the
channel name and ``cursor`` the channel's own cursor (``cursors.py``). Channels are
identified by hash, so a composite resumes the channels it names whatever the order or set
of channels of the next request; a channel it does not name cannot be resumed from it.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping

from .cursors import decode_cursor

_TAG_BYTES = 4
_ENTRY = r"[0-9a-f]{8}_[0-9a-z]{1,16}-[0-9a-z]{1,16}"
_COMPOSITE_RE = re.compile(rf"^{_ENTRY}(?:\.{_ENTRY})*$")
MAX_COMPOSITE_CHARS = 4096


def channel_tag(channel: str) -> str:
    return hashlib.blake2b(channel.encode(), digest_size=_TAG_BYTES).hexdigest()


def encode_composite(positions: Mapping[str, str]) -> str:
    """The composite of ``channel → cursor`` (channels in sorted order: stable ids)."""
    return ".".join(f"{channel_tag(c)}_{positions[c]}" for c in sorted(positions))


def decode_composite(text: str, channels: Iterable[str]) -> dict[str, str | None]:
    """For each of ``channels`` its cursor in ``text``, or ``None`` when ``text`` does not
    name it or is not a composite this server hands out (then no channel can be resumed)."""
    wanted = list(channels)
    if len(text) > MAX_COMPOSITE_CHARS or _COMPOSITE_RE.fullmatch(text) is None:
        return dict.fromkeys(wanted)
    by_tag: dict[str, str] = {}
    for entry in text.split("."):
        tag, _, cursor = entry.partition("_")
        if decode_cursor(cursor) is not None:
            by_tag[tag] = cursor
    return {c: by_tag.get(channel_tag(c)) for c in wanted}
