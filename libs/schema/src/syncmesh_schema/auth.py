"""JWT claims (PROTOCOL.md §1, Authentication).

``sub`` and ``exp`` are required. A missing ``channels`` or ``write`` claim means
unrestricted; globs use ``*`` for any run of characters (``/`` and ``:`` included) and must
match the whole channel or collection name.
"""

from __future__ import annotations

import re
from functools import lru_cache

from pydantic import Field

from .base import WireModel
from .channels import parse_channel


class TokenClaims(WireModel):
    """Verified token claims; unknown claims are ignored."""

    sub: str = Field(min_length=1, max_length=256)
    exp: int
    channels: list[str] | None = None
    write: list[str] | None = None
    admin: bool = False

    def may_read(self, channel: str) -> bool:
        """Whether this token may subscribe to ``channel`` (a valid channel name)."""
        ref = parse_channel(channel)
        if ref.kind == "inbox":
            return True
        if self.channels is None:
            return True
        if glob_match_any(self.channels, channel):
            return True
        # presence:<r> is readable when room:<r> is.
        return ref.kind == "presence" and glob_match_any(self.channels, f"room:{ref.room}")

    def may_write(self, collection: str) -> bool:
        """Whether this token may mutate documents of ``collection``."""
        return self.write is None or glob_match_any(self.write, collection)


@lru_cache(maxsize=4096)
def _glob_re(glob: str) -> re.Pattern[str]:
    return re.compile(".*".join(re.escape(part) for part in glob.split("*")), re.DOTALL)


def glob_match_any(globs: list[str], name: str) -> bool:
    """``*`` matches any run of characters; the whole name must match."""
    return any(_glob_re(g).fullmatch(name) for g in globs)
