"""Base classes for every syncmesh model.

Two directions, two rules:

* ``ClientInput`` — what a client sends to the gateway. Unknown fields are **forbidden**: the
  edge is where bad input is caught, and a typo must get a clear ``bad_request`` instead of
  being silently dropped.
* ``WireModel`` — what syncmesh itself emits (server frames, bus messages, stored records).
  Unknown fields are **ignored** so that an older reader keeps working when a newer writer
  adds a field (PROTOCOL.md: extend, never break).

Both are frozen: a model is a value that is passed around, never mutated in place.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

JSONValue = Any
"""Any JSON value (object, array, string, number, boolean, null)."""

JSONObject = dict[str, Any]
"""A JSON object."""


class WireModel(BaseModel):
    """Something syncmesh writes: tolerant of fields it does not know."""

    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)

    keep_none: ClassVar[frozenset[str]] = frozenset()
    """Top-level fields written as ``null`` when ``None``; every other ``None`` field is
    omitted, at every nesting level (optional fields absent rather than null, as PROTOCOL.md
    shows them). ``None`` inside JSON values (document data) is always kept."""

    def dump(self) -> dict[str, Any]:
        """JSON-ready dict."""
        out = self.model_dump(mode="json", by_alias=True, exclude_none=True)
        for name in self.keep_none:
            if getattr(self, name) is None:
                out[name] = None
        return out

    def to_json_bytes(self) -> bytes:
        """Compact JSON bytes, the form every frame and bus message travels in."""
        if any(getattr(self, name) is None for name in self.keep_none):
            return json.dumps(self.dump(), separators=(",", ":"), ensure_ascii=False).encode()
        # The common case stays entirely in pydantic-core (no Python per field).
        return self.model_dump_json(by_alias=True, exclude_none=True).encode()


class ClientInput(WireModel):
    """Something a client sends: strict about unknown fields."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)
