"""JSON value types, the ABSENT sentinel, type-strict deep equality and copies."""

from __future__ import annotations

import enum
import json
import math
from typing import Final, TypeAlias

from syncmesh_merge.errors import InvalidOpError

__all__ = [
    "ABSENT",
    "JSON",
    "Absent",
    "JSONObject",
    "Value",
    "canonical",
    "check_json",
    "copy_json",
    "is_number",
    "json_equal",
]

JSON: TypeAlias = dict[str, "JSON"] | list["JSON"] | str | int | float | bool | None
JSONObject: TypeAlias = dict[str, JSON]


class Absent(enum.Enum):
    """Type of `ABSENT`: "no key here", which JSON `null` is not."""

    ABSENT = "ABSENT"

    def __repr__(self) -> str:
        return "ABSENT"


ABSENT: Final = Absent.ABSENT
"""A key that is not present (RFC 7396 cannot say "set to null", so null and absence differ)."""

Value: TypeAlias = JSON | Absent
"""What a path holds in one version of a document: a JSON value or ABSENT."""


def _kind(value: Value) -> str:
    # bool before int: True is an int to Python but a different JSON value.
    if value is None or value is ABSENT:
        return repr(value)
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "str"
    if isinstance(value, list):
        return "list"
    return "dict"


def json_equal(a: Value, b: Value) -> bool:
    """Deep equality where 1, 1.0 and True all differ and ABSENT equals only itself."""
    if _kind(a) != _kind(b):
        return False
    if isinstance(a, dict):
        assert isinstance(b, dict)
        return a.keys() == b.keys() and all(json_equal(v, b[k]) for k, v in a.items())
    if isinstance(a, list):
        assert isinstance(b, list)
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b, strict=True))
    return a == b


def is_number(value: Value) -> bool:
    """True for JSON numbers (int or float), False for booleans."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def copy_json(value: JSON) -> JSON:
    """Deep copy of a JSON value (faster than `copy.deepcopy`, and no shared containers)."""
    if isinstance(value, dict):
        return {k: copy_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [copy_json(v) for v in value]
    return value


def canonical(value: JSON) -> str:
    """A string that identifies a JSON value: equal values (type-strict) give equal strings."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def check_json(value: object, what: str = "value") -> JSON:
    """Return `value` if it is a JSON value (finite numbers, string keys); else InvalidOpError."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidOpError(f"{what} is not a finite number: {value!r}")
        return value
    if isinstance(value, list):
        for item in value:
            check_json(item, what)
        return value
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise InvalidOpError(f"{what} has a non-string key: {key!r}")
            check_json(item, what)
        return value
    raise InvalidOpError(f"{what} is not a JSON value: {value!r}")
