"""State-based CRDTs for `crdt` mutations: counters, sets and a last-writer-wins register.

Each type is an immutable value: `apply(op, replica, stamp)` returns the state after a
PROTOCOL.md §4 op, `merge(other)` is the join (commutative, associative, idempotent, so
redelivered or replayed states are harmless), `value()` is the plain value a document shows,
and `to_json()` / `from_json()` store the state inside a document.

| type | op | state | value |
|---|---|---|---|
| `g_counter` | `{"inc": n}` | replica → total | sum |
| `pn_counter` | `{"inc": n}` or `{"dec": n}` | two g_counters | incs − decs |
| `g_set` | `{"add": [...]}` | elements | sorted elements |
| `or_set` | `{"add": [...]}`, `{"remove": [...]}` | live tags, tombstones, clock | live elements |
| `lww_register` | `{"set": value}` | value, `(hlc, replica)` stamp | value |

`n` is a positive integer (not a boolean); elements and values are any JSON values, and two
elements are the same when they are equal type-strictly (1, 1.0 and true differ). Sets show
their elements sorted by canonical JSON text so every replica shows the same list.

The replica id must be stable and unique per writer (syncmesh: the client id): g_counter and
or_set key their state by it. The or_set is add-wins: a remove tombstones only the tags it
has seen, so a concurrent add survives; each add gets a fresh tag `(replica, n)` from the
per-replica clock in the state. The lww_register keeps the write with the larger
`(hlc, replica)` stamp — the latest by clock, not the last to reach the server.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import ClassVar, Literal, TypeAlias, get_args

from syncmesh_merge.clock import HLC
from syncmesh_merge.errors import (
    ClockError,
    CrdtTypeError,
    InvalidOpError,
    InvalidStateError,
    MissingStampError,
)
from syncmesh_merge.values import JSON, JSONObject, canonical, check_json, copy_json

__all__ = [
    "CRDT_TYPES",
    "Crdt",
    "CrdtType",
    "GCounter",
    "GSet",
    "LWWRegister",
    "ORSet",
    "PNCounter",
    "Tag",
    "apply_crdt_op",
    "crdt_from_json",
    "empty_crdt",
    "merge_crdt_states",
]

CrdtType: TypeAlias = Literal["g_counter", "pn_counter", "g_set", "or_set", "lww_register"]
CRDT_TYPES: tuple[CrdtType, ...] = get_args(CrdtType)
Tag: TypeAlias = tuple[str, int]
"""Unique id of one or_set add: (replica, that replica's n-th tag)."""


# --- op validation --------------------------------------------------------------------------


def _replica(replica: object) -> str:
    if not isinstance(replica, str) or not replica:
        raise InvalidOpError(f"replica id must be a non-empty string, got {replica!r}")
    return replica


def _one_key(op: object, crdt_type: str, allowed: tuple[str, ...]) -> tuple[str, object]:
    if not isinstance(op, dict) or len(op) != 1 or next(iter(op)) not in allowed:
        shapes = " or ".join(f'{{"{k}": ...}}' for k in allowed)
        raise InvalidOpError(f"{crdt_type} op must be {shapes}, got {op!r}")
    ((key, arg),) = op.items()
    return key, arg


def _amount(value: object, crdt_type: str) -> int:
    if type(value) is not int or value <= 0:
        raise InvalidOpError(f"{crdt_type} amount must be a positive integer, got {value!r}")
    return value


def _element_list(value: object, crdt_type: str) -> list[JSON]:
    if not isinstance(value, list):
        raise InvalidOpError(f"{crdt_type} elements must be a list, got {value!r}")
    return [check_json(item, f"{crdt_type} element") for item in value]


def _distinct(elements: list[JSON]) -> dict[str, JSON]:
    return {canonical(e): e for e in elements}


def _hlc(stamp: HLC | str | None, crdt_type: str) -> HLC:
    if stamp is None:
        raise MissingStampError(f"{crdt_type} needs a hybrid logical clock stamp")
    return stamp if isinstance(stamp, HLC) else HLC.decode(stamp)


# --- state validation -----------------------------------------------------------------------


def _state(state: object, crdt_type: str, keys: tuple[str, ...]) -> dict[str, object]:
    if not isinstance(state, dict) or state.get("type") != crdt_type:
        raise InvalidStateError(f"not a {crdt_type} state: {state!r}")
    if set(state) != {"type", *keys}:
        raise InvalidStateError(f"{crdt_type} state needs exactly the keys type, {keys}")
    return state


def _counts(value: object, what: str) -> dict[str, int]:
    if not isinstance(value, dict):
        raise InvalidStateError(f"{what} must be an object of replica → count, got {value!r}")
    for replica, count in value.items():
        if not isinstance(replica, str) or not replica or type(count) is not int or count < 0:
            raise InvalidStateError(f"{what} has a bad entry {replica!r}: {count!r}")
    return dict(value)


def _state_elements(value: object, what: str) -> list[JSON]:
    try:
        return _element_list(value, what)
    except InvalidOpError as exc:
        raise InvalidStateError(str(exc)) from exc


def _tag(value: object) -> Tag:
    if (
        not isinstance(value, list)
        or len(value) != 2
        or not isinstance(value[0], str)
        or not value[0]
        or type(value[1]) is not int
        or value[1] <= 0
    ):
        raise InvalidStateError(f"or_set tag must be [replica, positive int], got {value!r}")
    return value[0], value[1]


def _tags(value: object) -> frozenset[Tag]:
    if not isinstance(value, list):
        raise InvalidStateError(f"or_set tags must be a list, got {value!r}")
    return frozenset(_tag(t) for t in value)


def _tags_json(tags: frozenset[Tag]) -> list[JSON]:
    return [[replica, n] for replica, n in sorted(tags)]


def _merge_max(a: Mapping[str, int], b: Mapping[str, int]) -> dict[str, int]:
    out = dict(a)
    for replica, n in b.items():
        out[replica] = max(out.get(replica, 0), n)
    return out


# --- types ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class GCounter:
    """Grow-only counter: each replica's own total; merge = pointwise max; value = sum."""

    counts: Mapping[str, int] = field(default_factory=dict)
    crdt_type: ClassVar[CrdtType] = "g_counter"

    def apply(self, op: object, replica: str, stamp: HLC | str | None = None) -> GCounter:
        """Apply `{"inc": n}` made by `replica` (`stamp` is unused)."""
        _, arg = _one_key(op, self.crdt_type, ("inc",))
        return self.increment(_replica(replica), _amount(arg, self.crdt_type))

    def increment(self, replica: str, n: int) -> GCounter:
        counts = dict(self.counts)
        counts[replica] = counts.get(replica, 0) + n
        return GCounter(counts)

    def merge(self, other: GCounter) -> GCounter:
        return GCounter(_merge_max(self.counts, other.counts))

    def value(self) -> int:
        return sum(self.counts.values())

    def to_json(self) -> JSONObject:
        return {"type": self.crdt_type, "counts": dict(sorted(self.counts.items()))}

    @classmethod
    def from_json(cls, state: object) -> GCounter:
        checked = _state(state, cls.crdt_type, ("counts",))
        return cls(_counts(checked["counts"], "g_counter counts"))


@dataclass(frozen=True)
class PNCounter:
    """Counter that goes both ways: one g_counter of increments, one of decrements."""

    p: GCounter = field(default_factory=GCounter)
    n: GCounter = field(default_factory=GCounter)
    crdt_type: ClassVar[CrdtType] = "pn_counter"

    def apply(self, op: object, replica: str, stamp: HLC | str | None = None) -> PNCounter:
        """Apply `{"inc": n}` or `{"dec": n}` made by `replica` (`stamp` is unused)."""
        key, arg = _one_key(op, self.crdt_type, ("inc", "dec"))
        amount = _amount(arg, self.crdt_type)
        who = _replica(replica)
        if key == "inc":
            return PNCounter(self.p.increment(who, amount), self.n)
        return PNCounter(self.p, self.n.increment(who, amount))

    def merge(self, other: PNCounter) -> PNCounter:
        return PNCounter(self.p.merge(other.p), self.n.merge(other.n))

    def value(self) -> int:
        return self.p.value() - self.n.value()

    def to_json(self) -> JSONObject:
        return {
            "type": self.crdt_type,
            "p": dict(sorted(self.p.counts.items())),
            "n": dict(sorted(self.n.counts.items())),
        }

    @classmethod
    def from_json(cls, state: object) -> PNCounter:
        checked = _state(state, cls.crdt_type, ("p", "n"))
        return cls(
            GCounter(_counts(checked["p"], "pn_counter p")),
            GCounter(_counts(checked["n"], "pn_counter n")),
        )


@dataclass(frozen=True)
class GSet:
    """Grow-only set of JSON values; merge = union."""

    elements: Mapping[str, JSON] = field(default_factory=dict)
    """canonical JSON text → element."""
    crdt_type: ClassVar[CrdtType] = "g_set"

    def apply(self, op: object, replica: str, stamp: HLC | str | None = None) -> GSet:
        """Apply `{"add": [...]}` (`replica` is checked, `stamp` unused)."""
        _, arg = _one_key(op, self.crdt_type, ("add",))
        _replica(replica)
        added = _distinct(_element_list(arg, self.crdt_type))
        return GSet({**self.elements, **{k: copy_json(v) for k, v in added.items()}})

    def merge(self, other: GSet) -> GSet:
        return GSet({**self.elements, **other.elements})

    def value(self) -> list[JSON]:
        return [copy_json(self.elements[k]) for k in sorted(self.elements)]

    def to_json(self) -> JSONObject:
        return {"type": self.crdt_type, "elements": self.value()}

    @classmethod
    def from_json(cls, state: object) -> GSet:
        checked = _state(state, cls.crdt_type, ("elements",))
        return cls(_distinct(_state_elements(checked["elements"], "g_set elements")))


@dataclass(frozen=True)
class ORSet:
    """Observed-remove set, add-wins.

    State: each present element with its live tags, the removed tags (tombstones, kept so a
    merge cannot bring a removed add back) and each replica's last tag number.
    """

    entries: Mapping[str, tuple[JSON, frozenset[Tag]]] = field(default_factory=dict)
    """canonical JSON text → (element, live tags); never an empty tag set."""
    removed: frozenset[Tag] = frozenset()
    clock: Mapping[str, int] = field(default_factory=dict)
    crdt_type: ClassVar[CrdtType] = "or_set"

    def apply(self, op: object, replica: str, stamp: HLC | str | None = None) -> ORSet:
        """Apply `{"add": [...]}` or `{"remove": [...]}` made by `replica` (`stamp` unused)."""
        key, arg = _one_key(op, self.crdt_type, ("add", "remove"))
        who = _replica(replica)
        elements = _distinct(_element_list(arg, self.crdt_type))
        entries = dict(self.entries)
        if key == "remove":
            # Tombstone only the tags seen here: an add this replica has not seen survives.
            removed = set(self.removed)
            for k in elements:
                if k in entries:
                    removed.update(entries.pop(k)[1])
            return ORSet(entries, frozenset(removed), self.clock)
        n = self.clock.get(who, 0)
        for k, element in elements.items():
            n += 1
            _, tags = entries.get(k, (element, frozenset()))
            entries[k] = (copy_json(element), tags | {(who, n)})
        return ORSet(entries, self.removed, {**self.clock, who: n})

    def merge(self, other: ORSet) -> ORSet:
        removed = self.removed | other.removed
        entries: dict[str, tuple[JSON, frozenset[Tag]]] = {}
        for k in self.entries.keys() | other.entries.keys():
            mine = self.entries.get(k)
            theirs = other.entries.get(k)
            element = (mine or theirs or (None, frozenset()))[0]
            tags = (mine[1] if mine else frozenset()) | (theirs[1] if theirs else frozenset())
            live = tags - removed
            if live:
                entries[k] = (element, live)
        return ORSet(entries, removed, _merge_max(self.clock, other.clock))

    def value(self) -> list[JSON]:
        return [copy_json(self.entries[k][0]) for k in sorted(self.entries)]

    def to_json(self) -> JSONObject:
        return {
            "type": self.crdt_type,
            "entries": [
                [copy_json(self.entries[k][0]), _tags_json(self.entries[k][1])]
                for k in sorted(self.entries)
            ],
            "removed": _tags_json(self.removed),
            "clock": dict(sorted(self.clock.items())),
        }

    @classmethod
    def from_json(cls, state: object) -> ORSet:
        checked = _state(state, cls.crdt_type, ("entries", "removed", "clock"))
        clock = _counts(checked["clock"], "or_set clock")
        removed = _tags(checked["removed"])
        raw_entries = checked["entries"]
        if not isinstance(raw_entries, list):
            raise InvalidStateError(f"or_set entries must be a list, got {raw_entries!r}")
        entries: dict[str, tuple[JSON, frozenset[Tag]]] = {}
        for entry in raw_entries:
            if not isinstance(entry, list) or len(entry) != 2:
                raise InvalidStateError(f"or_set entry must be [element, tags], got {entry!r}")
            (element,) = _state_elements([entry[0]], "or_set element")
            live = _tags(entry[1]) - removed
            k = canonical(element)
            if k in entries:
                raise InvalidStateError(f"or_set element listed twice: {element!r}")
            if live:
                entries[k] = (element, live)
        # A tag beyond its replica's clock could be handed out again by the next add.
        for replica, n in removed.union(*(tags for _, tags in entries.values())):
            if n > clock.get(replica, 0):
                raise InvalidStateError(f"or_set tag {[replica, n]!r} is ahead of the clock")
        return cls(entries, removed, clock)


@dataclass(frozen=True)
class LWWRegister:
    """Last-writer-wins register: the value written with the larger `(hlc, replica)` stamp."""

    written: JSON = None
    stamp: tuple[str, str] | None = None
    """(encoded HLC, replica) of the winning write; None before any write."""
    crdt_type: ClassVar[CrdtType] = "lww_register"

    def apply(self, op: object, replica: str, stamp: HLC | str | None = None) -> LWWRegister:
        """Apply `{"set": value}` made by `replica` at clock `stamp` (required)."""
        _, arg = _one_key(op, self.crdt_type, ("set",))
        value = check_json(arg, "lww_register value")
        write = LWWRegister(
            copy_json(value), (_hlc(stamp, self.crdt_type).encode(), _replica(replica))
        )
        return self.merge(write)

    def merge(self, other: LWWRegister) -> LWWRegister:
        if other.stamp is None:
            return self
        if self.stamp is None:
            return other
        # Equal stamps with different values cannot come from one honest writer; compare
        # the values too so the join stays commutative anyway.
        mine = (self.stamp, canonical(self.written))
        theirs = (other.stamp, canonical(other.written))
        return self if mine >= theirs else other

    def value(self) -> JSON:
        return copy_json(self.written)

    def to_json(self) -> JSONObject:
        stamp: JSON = list(self.stamp) if self.stamp else None
        return {"type": self.crdt_type, "value": copy_json(self.written), "stamp": stamp}

    @classmethod
    def from_json(cls, state: object) -> LWWRegister:
        checked = _state(state, cls.crdt_type, ("value", "stamp"))
        (value,) = _state_elements([checked["value"]], "lww_register value")
        raw = checked["stamp"]
        if raw is None:
            if value is not None:
                raise InvalidStateError("lww_register holds a value without a stamp")
            return cls()
        if (
            not (isinstance(raw, list) and len(raw) == 2 and all(isinstance(x, str) for x in raw))
            or not raw[1]
        ):
            raise InvalidStateError(f"lww_register stamp must be [hlc, replica], got {raw!r}")
        try:
            HLC.decode(raw[0])
        except ClockError as exc:
            raise InvalidStateError(str(exc)) from exc
        return cls(value, (raw[0], raw[1]))


Crdt: TypeAlias = GCounter | PNCounter | GSet | ORSet | LWWRegister
_CLASSES: dict[str, type[Crdt]] = {
    cls.crdt_type: cls for cls in (GCounter, PNCounter, GSet, ORSet, LWWRegister)
}


def _class_for(crdt_type: object) -> type[Crdt]:
    if not isinstance(crdt_type, str) or crdt_type not in _CLASSES:
        raise CrdtTypeError(f"unknown CRDT type {crdt_type!r}; use one of {CRDT_TYPES}")
    return _CLASSES[crdt_type]


def empty_crdt(crdt_type: str) -> Crdt:
    """The initial state of a CRDT type."""
    return _class_for(crdt_type)()


def crdt_from_json(state: object) -> Crdt:
    """Read a state written by `to_json`, whatever its type."""
    crdt_type = state.get("type") if isinstance(state, dict) else None
    if crdt_type is None:
        raise InvalidStateError(f"CRDT state must be an object with a type, got {state!r}")
    return _class_for(crdt_type).from_json(state)


def _join(a: Crdt, b: Crdt) -> Crdt:
    if isinstance(a, GCounter) and isinstance(b, GCounter):
        return a.merge(b)
    if isinstance(a, PNCounter) and isinstance(b, PNCounter):
        return a.merge(b)
    if isinstance(a, GSet) and isinstance(b, GSet):
        return a.merge(b)
    if isinstance(a, ORSet) and isinstance(b, ORSet):
        return a.merge(b)
    if isinstance(a, LWWRegister) and isinstance(b, LWWRegister):
        return a.merge(b)
    raise CrdtTypeError(f"cannot merge a {a.crdt_type} with a {b.crdt_type}")


def apply_crdt_op(
    state: object,
    crdt_type: str,
    op: object,
    replica: str,
    stamp: HLC | str | None = None,
) -> tuple[JSONObject, JSON]:
    """Apply one `crdt` mutation to a stored state (None: the field has none yet).

    Returns the new state to store and the plain value the document shows. Raises
    CrdtTypeError when `state` is of another type, InvalidOpError for a malformed op,
    InvalidStateError for an unreadable state, MissingStampError for an lww_register
    without `stamp`.
    """
    cls = _class_for(crdt_type)
    current = cls() if state is None else _from_state(cls, state)
    updated = current.apply(op, replica, stamp)
    return updated.to_json(), updated.value()


def _from_state(cls: type[Crdt], state: object) -> Crdt:
    found = state.get("type") if isinstance(state, dict) else None
    if found != cls.crdt_type:
        raise CrdtTypeError(f"the stored state is a {found!r}, not a {cls.crdt_type}")
    return cls.from_json(state)


def merge_crdt_states(a: object, b: object) -> tuple[JSONObject, JSON]:
    """Join two stored states of one type; returns the merged state and its plain value."""
    merged = _join(crdt_from_json(a), crdt_from_json(b))
    return merged.to_json(), merged.value()
