"""Three-way merge of JSON documents: base (common ancestor), ours (client), theirs (server).

Per path, with deep type-strict equality and ABSENT for "key not present":

1. ours == theirs → ours (the same change on both sides, both deletions included);
2. ours == base → theirs (only the server changed it);
3. theirs == base → ours (only the client changed it);
4. both changed differently:
   a. ours and theirs both objects, base an object or ABSENT → merge key by key
      (ABSENT base counts as `{}`, so concurrent creations merge field-wise); keys whose
      result is ABSENT are dropped;
   b. otherwise (scalars, arrays — which are atomic —, type changes, delete vs modify) →
      a conflict at this path, settled by, in order: the delete policy (when one side is
      ABSENT), the field rule named for this exact path (when it fits the values), the
      `resolve` callback.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal, TypeAlias, get_args

from syncmesh_merge.clock import Stamp
from syncmesh_merge.errors import InvalidConfigError, MissingStampError
from syncmesh_merge.values import (
    ABSENT,
    JSON,
    JSONObject,
    Value,
    canonical,
    copy_json,
    is_number,
    json_equal,
)

__all__ = [
    "DELETE_POLICIES",
    "FIELD_RULES",
    "Conflict",
    "DeletePolicy",
    "FieldRule",
    "MergeResult",
    "Path",
    "Resolver",
    "Side",
    "Source",
    "check_delete_policy",
    "check_field_rules",
    "dotted",
    "merge3",
    "value_at",
]

Path: TypeAlias = tuple[str, ...]
Side: TypeAlias = Literal["ours", "theirs"]
Source: TypeAlias = Literal["ours", "theirs", "both", "resolved"]
FieldRule: TypeAlias = Literal["max", "min", "union", "concat", "lww"]
DeletePolicy: TypeAlias = Literal["update_wins", "delete_wins"]
Resolver: TypeAlias = Callable[[Path, Value, Value, Value], Side]
"""Picks the side that wins a conflict from `(path, base, ours, theirs)`."""

FIELD_RULES: tuple[FieldRule, ...] = get_args(FieldRule)
DELETE_POLICIES: tuple[DeletePolicy, ...] = get_args(DeletePolicy)


def dotted(path: Path) -> str:
    """`("stats", "views")` → `"stats.views"`; the root is `""`. Keys with dots are ambiguous."""
    return ".".join(path)


def value_at(document: Value, path: Path) -> Value:
    """What `path` holds in `document`: ABSENT when a key is missing or a parent is no object."""
    for key in path:
        if not isinstance(document, dict) or key not in document:
            return ABSENT
        document = document[key]
    return document


def _copy(value: Value) -> Value:
    return ABSENT if value is ABSENT else copy_json(value)


def _to_json(value: Value) -> JSON:
    return None if value is ABSENT else copy_json(value)


@dataclass(frozen=True)
class Conflict:
    """A path both sides changed differently, and how it was settled."""

    path: Path
    base: Value
    ours: Value
    theirs: Value
    value: Value
    """What the merged document holds at `path` (ABSENT: the key is gone)."""
    winner: Source
    """"ours" or "theirs" when one side's value was kept, "resolved" when a rule computed it."""
    decided_by: str
    """The strategy, field rule (`max`, `union`, …) or delete policy that settled it."""

    def to_json(self) -> JSONObject:
        """JSON form; a side that is ABSENT is left out (`null` would mean JSON null)."""
        out: JSONObject = {"path": list(self.path)}
        for name in ("base", "ours", "theirs", "value"):
            value: Value = getattr(self, name)
            if value is not ABSENT:
                out[name] = _to_json(value)
        out["winner"] = self.winner
        out["decided_by"] = self.decided_by
        return out


@dataclass(frozen=True)
class MergeResult:
    """Merged document (ABSENT: deleted), its conflicts and where each changed path came from."""

    document: Value
    conflicts: list[Conflict] = field(default_factory=list)
    sources: dict[str, Source] = field(default_factory=dict)
    """Dotted path → "ours" / "theirs" / "both" / "resolved" for every changed path, as deep
    as the change goes: a key added inside an object is listed, not the whole object."""


class _Merger:
    def __init__(
        self,
        resolve: Resolver,
        resolve_name: str,
        field_rules: Mapping[str, FieldRule],
        delete_policy: DeletePolicy,
        ours_stamp: Stamp | None,
        theirs_stamp: Stamp | None,
    ) -> None:
        self.resolve = resolve
        self.resolve_name = resolve_name
        self.field_rules = field_rules
        self.delete_policy = delete_policy
        self.ours_stamp = ours_stamp
        self.theirs_stamp = theirs_stamp
        self.conflicts: list[Conflict] = []
        self.sources: dict[str, Source] = {}

    def record(self, path: Path, base: Value, value: Value, source: Source) -> None:
        """Explain a one-sided or shared change by the innermost paths it touched."""
        if json_equal(base, value):
            return
        if base is ABSENT and not path:
            base = {}  # a created document: explain it field by field
        if isinstance(base, dict) and isinstance(value, dict):
            for key in [*base, *(k for k in value if k not in base)]:
                self.record((*path, key), base.get(key, ABSENT), value.get(key, ABSENT), source)
        else:
            self.sources[dotted(path)] = source

    def merge(self, path: Path, base: Value, ours: Value, theirs: Value) -> Value:
        if json_equal(ours, theirs):
            self.record(path, base, ours, "both")
            return ours
        if json_equal(ours, base):
            self.record(path, base, theirs, "theirs")
            return theirs
        if json_equal(theirs, base):
            self.record(path, base, ours, "ours")
            return ours
        if (
            isinstance(ours, dict)
            and isinstance(theirs, dict)
            and (base is ABSENT or isinstance(base, dict))
        ):
            return self.merge_objects(path, {} if base is ABSENT else base, ours, theirs)
        return self.conflict(path, base, ours, theirs)

    def merge_objects(
        self, path: Path, base: JSONObject, ours: JSONObject, theirs: JSONObject
    ) -> JSONObject:
        out: JSONObject = {}
        # Theirs' key order first, then keys only ours has: stable, server-first layout.
        keys = list(theirs) + [k for k in ours if k not in theirs]
        keys += [k for k in base if k not in theirs and k not in ours]
        for key in keys:
            merged = self.merge(
                (*path, key),
                base.get(key, ABSENT),
                ours.get(key, ABSENT),
                theirs.get(key, ABSENT),
            )
            if merged is not ABSENT:
                out[key] = merged
        return out

    def conflict(self, path: Path, base: Value, ours: Value, theirs: Value) -> Value:
        value: Value
        winner: Source
        decided_by: str
        if ours is ABSENT or theirs is ABSENT:
            # Delete vs modify has its own knob; a parent delete lands here at the parent.
            decided_by = self.delete_policy
            deleted_side: Side = "ours" if ours is ABSENT else "theirs"
            kept_side: Side = "theirs" if ours is ABSENT else "ours"
            winner = deleted_side if self.delete_policy == "delete_wins" else kept_side
            value = ours if winner == "ours" else theirs
        else:
            rule = self.field_rules.get(dotted(path))
            computed = self.apply_rule(rule, base, ours, theirs) if rule else None
            if computed is not None:
                assert rule is not None
                decided_by = rule
                winner, value = computed
            else:
                decided_by = self.resolve_name
                winner = self.resolve(path, base, ours, theirs)
                value = ours if winner == "ours" else theirs
        self.conflicts.append(
            Conflict(
                path=path,
                base=_copy(base),
                ours=_copy(ours),
                theirs=_copy(theirs),
                value=_copy(value),
                winner=winner,
                decided_by=decided_by,
            )
        )
        self.sources[dotted(path)] = winner
        return value

    def apply_rule(
        self, rule: FieldRule, base: Value, ours: JSON, theirs: JSON
    ) -> tuple[Source, JSON] | None:
        """The rule's outcome, or None when it does not fit these values (→ the strategy)."""
        if rule == "lww":
            if self.ours_stamp is None or self.theirs_stamp is None:
                raise MissingStampError("field rule 'lww' needs ours_stamp and theirs_stamp")
            if self.ours_stamp > self.theirs_stamp:
                return "ours", ours
            return "theirs", theirs
        if rule in ("max", "min"):
            if not (is_number(ours) and is_number(theirs)):
                return None
            assert isinstance(ours, int | float)
            assert isinstance(theirs, int | float)
            # Numerically equal int and float (1 vs 1.0): max keeps the float, min the int,
            # whichever side holds it — the outcome must not depend on argument order.
            pick = max if rule == "max" else min
            return "resolved", pick(theirs, ours, key=lambda v: (v, isinstance(v, float)))
        if rule == "union":
            if not (isinstance(ours, list) and isinstance(theirs, list)):
                return None
            return "resolved", _union(theirs, ours)
        # concat
        if isinstance(ours, str) and isinstance(theirs, str):
            if isinstance(base, str) and ours.startswith(base):
                return "resolved", theirs + ours[len(base) :]
            return "resolved", theirs + ours
        if isinstance(ours, list) and isinstance(theirs, list):
            return "resolved", [*theirs, *_added(base, ours)]
        return None


def _union(first: list[JSON], second: list[JSON]) -> list[JSON]:
    seen: set[str] = set()
    out: list[JSON] = []
    for item in (*first, *second):
        key = canonical(item)
        if key not in seen:
            seen.add(key)
            out.append(item)
    return out


def _added(base: Value, ours: list[JSON]) -> list[JSON]:
    """Items ours added relative to base: its suffix if it extends base, else a multiset diff."""
    if not isinstance(base, list):
        return ours
    if len(ours) >= len(base) and json_equal(ours[: len(base)], base):
        return ours[len(base) :]
    remaining = Counter(canonical(item) for item in base)
    added: list[JSON] = []
    for item in ours:
        key = canonical(item)
        if remaining[key] > 0:
            remaining[key] -= 1
        else:
            added.append(item)
    return added


def check_field_rules(field_rules: Mapping[str, str] | None) -> dict[str, FieldRule]:
    """Validate a dotted-path → rule mapping; InvalidConfigError names the bad entry."""
    checked: dict[str, FieldRule] = {}
    for path, rule in (field_rules or {}).items():
        if not isinstance(path, str):
            raise InvalidConfigError(f"field rule path must be a dotted string: {path!r}")
        for known in FIELD_RULES:
            if rule == known:
                checked[path] = known
                break
        else:
            raise InvalidConfigError(f"unknown field rule {rule!r} for {path!r}; use {FIELD_RULES}")
    return checked


def check_delete_policy(policy: str) -> DeletePolicy:
    """Validate a delete-vs-modify policy name."""
    for known in DELETE_POLICIES:
        if policy == known:
            return known
    raise InvalidConfigError(f"unknown delete policy {policy!r}; use {DELETE_POLICIES}")


def merge3(
    base: Value,
    ours: Value,
    theirs: Value,
    *,
    resolve: Resolver,
    resolve_name: str = "resolve",
    field_rules: Mapping[str, str] | None = None,
    delete_policy: str = "update_wins",
    ours_stamp: Stamp | None = None,
    theirs_stamp: Stamp | None = None,
) -> MergeResult:
    """Three-way merge of `ours` and `theirs` against their common `base`.

    Args:
        base, ours, theirs: JSON values, or ABSENT where the document (or key) does not exist.
        resolve: picks "ours" or "theirs" for each conflict no rule or policy settles.
        resolve_name: how conflicts settled by `resolve` are labelled (`Conflict.decided_by`).
        field_rules: dotted path → `max` | `min` (numbers), `union` (arrays: theirs, then
            ours' items not already there, deduplicated), `concat` (arrays: theirs + items
            ours added relative to base; strings: theirs + ours' appended suffix when ours
            extends base, else theirs + ours), `lww` (newer stamp wins). A rule settles a
            conflict at exactly its path; when it does not fit the values the conflict goes
            to `resolve`.
        delete_policy: `update_wins` (a concurrent edit beats a delete) or `delete_wins`.
        ours_stamp, theirs_stamp: `(hlc, client_id)` of each side's write, for `lww` rules.

    Returns:
        The merged document (copied: sharing nothing with the inputs), the conflicts in
        document order and a dotted path → source explanation of every path that changed.
    """
    merger = _Merger(
        resolve,
        resolve_name,
        check_field_rules(field_rules),
        check_delete_policy(delete_policy),
        ours_stamp,
        theirs_stamp,
    )
    document = merger.merge((), base, ours, theirs)
    return MergeResult(_copy(document), merger.conflicts, merger.sources)
