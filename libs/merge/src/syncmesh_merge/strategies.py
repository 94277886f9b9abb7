"""Conflict strategies: what happens when a mutation's base version is behind the document.

Every strategy is a pure function of `(base, ours, theirs)` plus settings. `base` is the
document at the mutation's base version, `ours` the client's proposed document, `theirs`
the current server document; `None` means "no document" (not created yet, or deleted).

Every strategy is a three-way merge (`merge3`): changes made on one side only always
survive, and each true conflict — a path both sides changed differently — is settled by the
delete policy (delete vs modify), then by a field rule for that path, then by the strategy:

| strategy | a conflict goes to |
|---|---|
| `server_wins` | theirs |
| `client_wins` | ours |
| `last_writer_wins` | the larger `(hlc, client_id)` stamp |
| `first_writer_wins` | the smaller `(hlc, client_id)` stamp |
| `merge` | the `fallback` strategy (default `server_wins`) |
| `manual` | a person (delete vs modify too): nothing applied, conflicts returned |

"First" means first by the writers' clocks, not by arrival at the server (arrival order
would make it `server_wins`). Stamps are per document write, not per field: with last/first
writer wins every conflict of one mutation goes the same way. Equal stamps (the same client
and clock value) give theirs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal, TypeAlias, get_args

from syncmesh_merge.clock import HLC, Stamp
from syncmesh_merge.errors import InvalidConfigError, InvalidDocumentError, MissingStampError
from syncmesh_merge.threeway import (
    FIELD_RULES,
    Conflict,
    MergeResult,
    Resolver,
    Side,
    Source,
    check_field_rules,
    merge3,
)
from syncmesh_merge.values import ABSENT, JSONObject, Value, copy_json, json_equal

__all__ = [
    "FALLBACKS",
    "HLC",
    "STRATEGIES",
    "Document",
    "Fallback",
    "Resolution",
    "Stamp",
    "StrategyName",
    "Suggestion",
    "client_wins",
    "first_writer_wins",
    "last_writer_wins",
    "manual",
    "merge",
    "resolve",
    "server_wins",
    "suggest_strategy",
]

StrategyName: TypeAlias = Literal[
    "server_wins", "client_wins", "last_writer_wins", "first_writer_wins", "merge", "manual"
]
Fallback: TypeAlias = Literal[
    "server_wins", "client_wins", "last_writer_wins", "first_writer_wins", "manual"
]
Document: TypeAlias = JSONObject | None
"""A whole document; None when there is none (never created, or deleted)."""

STRATEGIES: tuple[StrategyName, ...] = get_args(StrategyName)
FALLBACKS: tuple[Fallback, ...] = get_args(Fallback)
_STAMPED = ("last_writer_wins", "first_writer_wins")

# suggest_strategy: a string this long, or with a line break, is prose — not for LWW.
TEXT_HEAVY_CHARS = 80


@dataclass(frozen=True)
class Resolution:
    """Outcome of a strategy.

    `document` is what to commit (None: the document is deleted). `winner` maps each dotted
    path that changed to where its value came from. `rejected` means the mutation changed
    something but the outcome is exactly the server's document, so nothing of it survived;
    `needs_manual` means nothing was applied and `conflicts` wait for a person.
    """

    strategy: StrategyName
    document: Document
    winner: dict[str, Source] = field(default_factory=dict)
    conflicts: list[Conflict] = field(default_factory=list)
    needs_manual: bool = False
    rejected: bool = False

    def to_json(self) -> JSONObject:
        """JSON form for the wire or an audit record."""
        return {
            "strategy": self.strategy,
            "fields": dict(self.winner),
            "conflicts": [c.to_json() for c in self.conflicts],
            "needs_manual": self.needs_manual,
            "rejected": self.rejected,
        }


def _as_value(document: object, name: str) -> Value:
    if document is None:
        return ABSENT
    if not isinstance(document, dict):
        raise InvalidDocumentError(f"{name} must be a JSON object or None, got {document!r}")
    return document


def _need_stamps(
    ours_stamp: Stamp | None, theirs_stamp: Stamp | None, why: str
) -> tuple[Stamp, Stamp]:
    if ours_stamp is None or theirs_stamp is None:
        raise MissingStampError(f"{why} needs ours_stamp and theirs_stamp")
    return ours_stamp, theirs_stamp


def _resolver(name: Fallback, ours_stamp: Stamp | None, theirs_stamp: Stamp | None) -> Resolver:
    if name == "client_wins":
        return lambda path, base, ours, theirs: "ours"
    if name in _STAMPED:
        ours_s, theirs_s = _need_stamps(ours_stamp, theirs_stamp, name)
        side: Side
        if name == "last_writer_wins":
            side = "ours" if ours_s > theirs_s else "theirs"
        else:
            side = "ours" if ours_s < theirs_s else "theirs"
        return lambda path, base, ours, theirs: side
    # server_wins, and manual (theirs stays until a person decides)
    return lambda path, base, ours, theirs: "theirs"


def _merge(
    strategy: StrategyName,
    fallback: Fallback,
    base: Document,
    ours: Document,
    theirs: Document,
    *,
    field_rules: Mapping[str, str] | None,
    delete_policy: str,
    ours_stamp: Stamp | None,
    theirs_stamp: Stamp | None,
) -> Resolution:
    rules = check_field_rules(field_rules)
    if "lww" in rules.values():
        _need_stamps(ours_stamp, theirs_stamp, "field rule 'lww'")
    b, o, t = _as_value(base, "base"), _as_value(ours, "ours"), _as_value(theirs, "theirs")
    result = merge3(
        b,
        o,
        t,
        resolve=_resolver(fallback, ours_stamp, theirs_stamp),
        resolve_name=fallback,
        field_rules=rules,
        delete_policy=delete_policy,
        ours_stamp=ours_stamp,
        theirs_stamp=theirs_stamp,
    )
    if fallback == "manual":
        return _park(strategy, result, theirs)
    document = result.document
    assert document is ABSENT or isinstance(document, dict)
    rejected = not json_equal(o, b) and not json_equal(o, t) and json_equal(document, t)
    return Resolution(
        strategy=strategy,
        document=None if document is ABSENT else document,
        winner=result.sources,
        conflicts=result.conflicts,
        rejected=rejected,
    )


def _park(strategy: StrategyName, result: MergeResult, theirs: Document) -> Resolution:
    # Conflicts a field rule settled need nobody; the rest (strategy or delete policy) do.
    if all(c.decided_by in FIELD_RULES for c in result.conflicts):
        document = result.document
        assert document is ABSENT or isinstance(document, dict)
        return Resolution(
            strategy=strategy,
            document=None if document is ABSENT else document,
            winner=result.sources,
            conflicts=result.conflicts,
        )
    kept: dict[str, Source] = {p: s for p, s in result.sources.items() if s in ("theirs", "both")}
    return Resolution(
        strategy=strategy,
        document=None if theirs is None else {k: copy_json(v) for k, v in theirs.items()},
        winner=kept,
        conflicts=result.conflicts,
        needs_manual=True,
    )


def server_wins(
    base: Document,
    ours: Document,
    theirs: Document,
    *,
    field_rules: Mapping[str, str] | None = None,
    delete_policy: str = "update_wins",
    ours_stamp: Stamp | None = None,
    theirs_stamp: Stamp | None = None,
) -> Resolution:
    """Three-way merge; every true conflict keeps the server's value."""
    return _merge(
        "server_wins",
        "server_wins",
        base,
        ours,
        theirs,
        field_rules=field_rules,
        delete_policy=delete_policy,
        ours_stamp=ours_stamp,
        theirs_stamp=theirs_stamp,
    )


def client_wins(
    base: Document,
    ours: Document,
    theirs: Document,
    *,
    field_rules: Mapping[str, str] | None = None,
    delete_policy: str = "update_wins",
    ours_stamp: Stamp | None = None,
    theirs_stamp: Stamp | None = None,
) -> Resolution:
    """Three-way merge; every true conflict takes the client's value."""
    return _merge(
        "client_wins",
        "client_wins",
        base,
        ours,
        theirs,
        field_rules=field_rules,
        delete_policy=delete_policy,
        ours_stamp=ours_stamp,
        theirs_stamp=theirs_stamp,
    )


def last_writer_wins(
    base: Document,
    ours: Document,
    theirs: Document,
    *,
    ours_stamp: Stamp | None,
    theirs_stamp: Stamp | None,
    field_rules: Mapping[str, str] | None = None,
    delete_policy: str = "update_wins",
) -> Resolution:
    """Three-way merge; every true conflict goes to the larger `(hlc, client_id)` stamp."""
    return _merge(
        "last_writer_wins",
        "last_writer_wins",
        base,
        ours,
        theirs,
        field_rules=field_rules,
        delete_policy=delete_policy,
        ours_stamp=ours_stamp,
        theirs_stamp=theirs_stamp,
    )


def first_writer_wins(
    base: Document,
    ours: Document,
    theirs: Document,
    *,
    ours_stamp: Stamp | None,
    theirs_stamp: Stamp | None,
    field_rules: Mapping[str, str] | None = None,
    delete_policy: str = "update_wins",
) -> Resolution:
    """Three-way merge; every true conflict goes to the smaller `(hlc, client_id)` stamp."""
    return _merge(
        "first_writer_wins",
        "first_writer_wins",
        base,
        ours,
        theirs,
        field_rules=field_rules,
        delete_policy=delete_policy,
        ours_stamp=ours_stamp,
        theirs_stamp=theirs_stamp,
    )


def merge(
    base: Document,
    ours: Document,
    theirs: Document,
    *,
    field_rules: Mapping[str, str] | None = None,
    fallback: str = "server_wins",
    delete_policy: str = "update_wins",
    ours_stamp: Stamp | None = None,
    theirs_stamp: Stamp | None = None,
) -> Resolution:
    """Three-way merge with field rules; other conflicts go to the `fallback` strategy."""
    return _merge(
        "merge",
        _check_fallback(fallback),
        base,
        ours,
        theirs,
        field_rules=field_rules,
        delete_policy=delete_policy,
        ours_stamp=ours_stamp,
        theirs_stamp=theirs_stamp,
    )


def manual(
    base: Document,
    ours: Document,
    theirs: Document,
    *,
    field_rules: Mapping[str, str] | None = None,
    delete_policy: str = "update_wins",
    ours_stamp: Stamp | None = None,
    theirs_stamp: Stamp | None = None,
) -> Resolution:
    """Leave conflicts to a person.

    With a true conflict that no field rule settles (delete vs modify included) the result
    needs a person: document = theirs unchanged, `needs_manual`, the conflict list. Without
    one there is nothing to ask: the clean three-way merge is returned.
    """
    return _merge(
        "manual",
        "manual",
        base,
        ours,
        theirs,
        field_rules=field_rules,
        delete_policy=delete_policy,
        ours_stamp=ours_stamp,
        theirs_stamp=theirs_stamp,
    )


def _check_strategy(strategy: str) -> StrategyName:
    for known in STRATEGIES:
        if strategy == known:
            return known
    raise InvalidConfigError(f"unknown strategy {strategy!r}; use one of {STRATEGIES}")


def _check_fallback(fallback: str) -> Fallback:
    for known in FALLBACKS:
        if fallback == known:
            return known
    raise InvalidConfigError(f"unknown fallback strategy {fallback!r}; use one of {FALLBACKS}")


def resolve(
    strategy: str,
    base: Document,
    ours: Document,
    theirs: Document,
    *,
    field_rules: Mapping[str, str] | None = None,
    fallback: str = "server_wins",
    ours_stamp: Stamp | None = None,
    theirs_stamp: Stamp | None = None,
    delete_policy: str = "update_wins",
) -> Resolution:
    """Run the named strategy (see the module docstring); the one entry point for services.

    Raises:
        InvalidConfigError: unknown strategy, fallback, field rule or delete policy.
        MissingStampError: a stamp-based strategy, fallback or `lww` rule without both stamps.
        InvalidDocumentError: a document that is neither an object nor None.
    """
    name = _check_strategy(strategy)
    per_conflict: Fallback = _check_fallback(fallback) if name == "merge" else name
    return _merge(
        name,
        per_conflict,
        base,
        ours,
        theirs,
        field_rules=field_rules,
        delete_policy=delete_policy,
        ours_stamp=ours_stamp,
        theirs_stamp=theirs_stamp,
    )


@dataclass(frozen=True)
class Suggestion:
    """A strategy suggested for one conflict, with the reason and the contested paths."""

    strategy: Literal["merge", "crdt", "last_writer_wins", "manual"]
    reason: str
    paths: list[str] = field(default_factory=list)
    crdt_type: Literal["g_counter", "pn_counter"] | None = None


def _is_int(value: Value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _not_below(value: Value, base: Value) -> bool:
    return isinstance(value, int) and isinstance(base, int) and value >= base


def _text_heavy(value: Value) -> bool:
    return isinstance(value, str) and (len(value) >= TEXT_HEAVY_CHARS or "\n" in value)


def suggest_strategy(base: Document, ours: Document, theirs: Document) -> Suggestion:
    """Name the strategy that suits this conflict best.

    Heuristic, from the true conflicts a three-way merge finds:

    - none (the changed paths do not overlap, or both made the same change) → `merge`;
    - all of them integer fields changed on both sides (base, ours, theirs all integers:
      concurrent counting) → `crdt`, with `g_counter` when neither side went down, else
      `pn_counter` — a counter CRDT adds both increments where any strategy loses one;
    - any of them text-heavy (a string of `TEXT_HEAVY_CHARS` or more code points, or with
      a line break, on any side) → `manual`: picking a side throws away prose (longer
      term, edit such fields with `text` ops);
    - otherwise (short scalars, arrays, type changes, delete vs modify) → `last_writer_wins`.
    """
    probe = merge3(
        _as_value(base, "base"),
        _as_value(ours, "ours"),
        _as_value(theirs, "theirs"),
        resolve=lambda path, b, o, t: "theirs",
    )
    conflicts = probe.conflicts
    paths = [".".join(c.path) for c in conflicts]
    if not conflicts:
        return Suggestion(
            "merge", "the two sides changed different paths (or made the same change)"
        )
    if all(_is_int(c.base) and _is_int(c.ours) and _is_int(c.theirs) for c in conflicts):
        grew = all(_not_below(c.ours, c.base) and _not_below(c.theirs, c.base) for c in conflicts)
        return Suggestion(
            "crdt",
            "only integer fields changed on both sides, like counters: a counter CRDT keeps "
            "both sides' increments",
            paths,
            "g_counter" if grew else "pn_counter",
        )
    heavy = [p for p, c in zip(paths, conflicts, strict=True) if _heavy_conflict(c)]
    if heavy:
        return Suggestion(
            "manual",
            "text-heavy fields changed on both sides; picking one side would lose writing",
            heavy,
        )
    return Suggestion("last_writer_wins", "short values changed on both sides", paths)


def _heavy_conflict(conflict: Conflict) -> bool:
    return any(_text_heavy(v) for v in (conflict.base, conflict.ours, conflict.theirs))
