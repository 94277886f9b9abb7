"""CRDTs: op formats, validation, stored states, join laws and replay oracles."""

import json
import math
from dataclasses import dataclass, field
from functools import reduce
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from syncmesh_merge import (
    CRDT_TYPES,
    HLC,
    JSON,
    ClockError,
    Crdt,
    CrdtTypeError,
    GCounter,
    GSet,
    InvalidOpError,
    InvalidStateError,
    LWWRegister,
    MissingStampError,
    ORSet,
    PNCounter,
    apply_crdt_op,
    canonical,
    crdt_from_json,
    empty_crdt,
    merge_crdt_states,
)

FUZZ = settings(settings.get_profile("syncmesh-merge"), max_examples=100)


def clock(ms: int, counter: int = 0) -> str:
    return HLC(ms, counter).encode()


# --- each type ------------------------------------------------------------------------------


def test_g_counter() -> None:
    state = GCounter().apply({"inc": 2}, "a").apply({"inc": 3}, "b").apply({"inc": 1}, "a")
    assert state.value() == 6
    assert state.to_json() == {"type": "g_counter", "counts": {"a": 3, "b": 3}}
    other = GCounter().apply({"inc": 5}, "a")
    assert state.merge(other).value() == 8  # pointwise max: a=5, b=3
    assert GCounter.from_json(state.to_json()) == state


def test_pn_counter_can_go_below_zero() -> None:
    state = PNCounter().apply({"inc": 2}, "a").apply({"dec": 5}, "b")
    assert state.value() == -3
    assert state.to_json() == {"type": "pn_counter", "p": {"a": 2}, "n": {"b": 5}}


def test_g_set_is_type_strict_and_sorted() -> None:
    state = GSet().apply({"add": [1, 1.0, True, "x", {"k": [1]}, 1]}, "a")
    assert len(state.value()) == 5
    assert state.value() == sorted(state.value(), key=canonical)
    assert GSet.from_json(json.loads(json.dumps(state.to_json()))) == state


def test_or_set_add_remove_readd() -> None:
    state = ORSet().apply({"add": ["x", "y"]}, "a")
    state = state.apply({"remove": ["x", "never-added"]}, "a")
    assert state.value() == ["y"]
    state = state.apply({"add": ["x"]}, "b")
    assert state.value() == ["x", "y"]
    assert state.to_json() == {
        "type": "or_set",
        "entries": [["x", [["b", 1]]], ["y", [["a", 2]]]],
        "removed": [["a", 1]],
        "clock": {"a": 2, "b": 1},
    }


def test_or_set_concurrent_add_and_remove_add_wins() -> None:
    shared = ORSet().apply({"add": ["x"]}, "a")
    removed_at_b = shared.apply({"remove": ["x"]}, "b")
    readded_at_a = shared.apply({"add": ["x"]}, "a")  # concurrent with b's remove
    assert removed_at_b.merge(readded_at_a).value() == ["x"]
    assert readded_at_a.merge(removed_at_b).value() == ["x"]
    # ... but a remove that has seen the add wins over it.
    later = removed_at_b.merge(readded_at_a).apply({"remove": ["x"]}, "b")
    assert later.merge(readded_at_a).value() == []


def test_or_set_tags_are_unique_per_add() -> None:
    state = ORSet().apply({"add": ["x"]}, "a").apply({"add": ["x"]}, "a")
    assert state.entries[canonical("x")][1] == frozenset({("a", 1), ("a", 2)})


def test_lww_register_keeps_the_larger_stamp_in_any_order() -> None:
    early = LWWRegister().apply({"set": "early"}, "a", clock(100))
    late = LWWRegister().apply({"set": "late"}, "b", clock(100, 1))
    assert early.merge(late).value() == "late"
    assert late.merge(early).value() == "late"
    # applying an older write after a newer one changes nothing
    assert late.apply({"set": "older"}, "c", HLC(99)).value() == "late"
    # equal clocks: the replica id decides
    tie_a = LWWRegister().apply({"set": "from-a"}, "a", clock(5))
    tie_b = LWWRegister().apply({"set": "from-b"}, "b", clock(5))
    assert tie_a.merge(tie_b).value() == tie_b.merge(tie_a).value() == "from-b"
    assert LWWRegister().value() is None
    assert late.to_json() == {
        "type": "lww_register",
        "value": "late",
        "stamp": [clock(100, 1), "b"],
    }


def test_lww_register_needs_a_valid_stamp() -> None:
    with pytest.raises(MissingStampError):
        LWWRegister().apply({"set": 1}, "a")
    with pytest.raises(ClockError):
        LWWRegister().apply({"set": 1}, "a", "yesterday")


# --- validation -----------------------------------------------------------------------------

BAD_OPS: list[tuple[str, Any]] = [
    ("g_counter", {"inc": 0}),
    ("g_counter", {"inc": -1}),
    ("g_counter", {"inc": True}),
    ("g_counter", {"inc": 1.0}),
    ("g_counter", {"inc": "1"}),
    ("g_counter", {"dec": 1}),
    ("g_counter", {}),
    ("g_counter", {"inc": 1, "extra": 1}),
    ("g_counter", [1]),
    ("g_counter", None),
    ("pn_counter", {"inc": 1, "dec": 1}),
    ("pn_counter", {"dec": False}),
    ("g_set", {"add": "x"}),
    ("g_set", {"add": [math.nan]}),
    ("g_set", {"add": [{1: "non-string key"}]}),
    ("g_set", {"add": [(1, 2)]}),
    ("g_set", {"remove": [1]}),
    ("or_set", {"add": ["x"], "remove": ["y"]}),
    ("or_set", {"remove": {"x": 1}}),
    ("or_set", {"add": [math.inf]}),
    ("lww_register", {"set": math.inf}),
    ("lww_register", {"value": 1}),
]


@pytest.mark.parametrize(("crdt_type", "op"), BAD_OPS)
def test_malformed_ops_are_rejected(crdt_type: str, op: Any) -> None:
    with pytest.raises(InvalidOpError):
        apply_crdt_op(None, crdt_type, op, "replica", clock(1))


@pytest.mark.parametrize("replica", ["", None, 5])
@pytest.mark.parametrize("crdt_type", CRDT_TYPES)
def test_replica_ids_must_be_non_empty_strings(crdt_type: str, replica: Any) -> None:
    op = {
        "g_counter": {"inc": 1},
        "pn_counter": {"dec": 1},
        "g_set": {"add": [1]},
        "or_set": {"add": [1]},
        "lww_register": {"set": 1},
    }[crdt_type]
    with pytest.raises(InvalidOpError):
        apply_crdt_op(None, crdt_type, op, replica, clock(1))


def test_apply_crdt_op_round_trip() -> None:
    state, value = apply_crdt_op(None, "pn_counter", {"inc": 5}, "a")
    assert value == 5
    state, value = apply_crdt_op(json.loads(json.dumps(state)), "pn_counter", {"dec": 7}, "b")
    assert value == -2
    state, value = apply_crdt_op(None, "or_set", {"add": ["x", {"y": 1}]}, "a")
    assert value == ["x", {"y": 1}]  # sorted by canonical JSON text
    state, value = apply_crdt_op(None, "lww_register", {"set": {"deep": [1]}}, "a", HLC(9))
    assert value == {"deep": [1]}


def test_type_errors() -> None:
    state, _ = apply_crdt_op(None, "g_counter", {"inc": 1}, "a")
    with pytest.raises(CrdtTypeError):
        apply_crdt_op(state, "pn_counter", {"inc": 1}, "a")
    with pytest.raises(CrdtTypeError):
        apply_crdt_op(None, "counter", {"inc": 1}, "a")
    with pytest.raises(CrdtTypeError):
        empty_crdt("mv_register")
    with pytest.raises(CrdtTypeError):
        merge_crdt_states(state, apply_crdt_op(None, "g_set", {"add": [1]}, "a")[0])


@pytest.mark.parametrize(
    "state",
    [
        None,
        [],
        {"counts": {}},
        {"type": "g_counter"},
        {"type": "g_counter", "counts": {"a": -1}},
        {"type": "g_counter", "counts": {"a": True}},
        {"type": "g_counter", "counts": {"": 1}},
        {"type": "g_counter", "counts": {}, "extra": 1},
        {"type": "pn_counter", "p": {}, "n": []},
        {"type": "g_set", "elements": "abc"},
        {"type": "or_set", "entries": [], "removed": [], "clock": {}, "x": 1},
        {"type": "or_set", "entries": [["x", [["a", 2]]]], "removed": [], "clock": {"a": 1}},
        {"type": "or_set", "entries": [["x", [["a", 0]]]], "removed": [], "clock": {"a": 1}},
        {
            "type": "or_set",
            "entries": [["x", [["a", 1]]], ["x", [["a", 2]]]],
            "removed": [],
            "clock": {"a": 2},
        },
        {"type": "or_set", "entries": [["x"]], "removed": [], "clock": {}},
        {"type": "or_set", "entries": [], "removed": [["b", 1]], "clock": {}},
        {"type": "lww_register", "value": 1, "stamp": None},
        {"type": "lww_register", "value": 1, "stamp": ["not-a-clock", "a"]},
        {"type": "lww_register", "value": 1, "stamp": [clock(1), ""]},
    ],
)
def test_unreadable_states_are_rejected(state: object) -> None:
    with pytest.raises(InvalidStateError):
        crdt_from_json(state)


# --- properties -----------------------------------------------------------------------------

REPLICAS = ["r1", "r2", "r3"]
elements = st.sampled_from([0, 1, 1.0, True, "x", "y", None, [1], {"k": "v"}])
element_lists = st.lists(elements, max_size=3)
OPS: dict[str, st.SearchStrategy[dict[str, Any]]] = {
    "g_counter": st.builds(lambda n: {"inc": n}, st.integers(1, 5)),
    "pn_counter": st.one_of(
        st.builds(lambda n: {"inc": n}, st.integers(1, 5)),
        st.builds(lambda n: {"dec": n}, st.integers(1, 5)),
    ),
    "g_set": st.builds(lambda xs: {"add": xs}, element_lists),
    "or_set": st.one_of(
        st.builds(lambda xs: {"add": xs}, element_lists),
        st.builds(lambda xs: {"remove": xs}, element_lists),
    ),
    "lww_register": st.builds(lambda v: {"set": v}, elements),
}


@dataclass
class Event:
    replica: str
    op: dict[str, Any]
    stamp: str
    gossip_from: str | None  # after the op, merge this replica's state in


@dataclass
class History:
    """A replica's causal history for the or_set oracle: which adds and removes it has seen."""

    adds: set[tuple[int, str]] = field(default_factory=set)  # (event index, element key)
    removed: set[tuple[int, str]] = field(default_factory=set)


@st.composite
def scenarios(draw: st.DrawFn, crdt_type: str) -> list[Event]:
    events = []
    for _ in range(draw(st.integers(0, 12))):
        events.append(
            Event(
                replica=draw(st.sampled_from(REPLICAS)),
                op=draw(OPS[crdt_type]),
                # small clock values so equal clocks (tie-break on replica) happen
                stamp=clock(draw(st.integers(0, 3)), draw(st.integers(0, 1))),
                gossip_from=draw(st.none() | st.sampled_from(REPLICAS)),
            )
        )
    return events


def run(crdt_type: str, events: list[Event]) -> dict[str, Crdt]:
    states = {r: empty_crdt(crdt_type) for r in REPLICAS}
    for event in events:
        states[event.replica] = states[event.replica].apply(event.op, event.replica, event.stamp)
        if event.gossip_from:
            states[event.replica] = join(states[event.replica], states[event.gossip_from])
    return states


def join(a: Crdt, b: Crdt) -> Crdt:
    merged, _ = merge_crdt_states(a.to_json(), b.to_json())
    return crdt_from_json(merged)


def replay_oracle(crdt_type: str, events: list[Event]) -> JSON:
    """The value every replica must reach, computed from the ops alone (no CRDT code)."""
    if crdt_type == "g_counter":
        total: int = sum(e.op["inc"] for e in events)
        return total
    if crdt_type == "pn_counter":
        net: int = sum(e.op.get("inc", 0) - e.op.get("dec", 0) for e in events)
        return net
    if crdt_type == "g_set":
        found = {canonical(x): x for e in events for x in e.op["add"]}
        return [found[k] for k in sorted(found)]
    if crdt_type == "lww_register":
        if not events:
            return None
        winner = max(events, key=lambda e: ((e.stamp, e.replica), canonical(e.op["set"])))
        value: JSON = winner.op["set"]
        return value
    # or_set, add-wins: an element is present iff some add of it was not observed by a remove.
    seen = {r: History() for r in REPLICAS}
    everything = History()
    values: dict[str, JSON] = {}
    for i, event in enumerate(events):
        mine = seen[event.replica]
        for x in event.op.get("add", []):
            values[canonical(x)] = x
            mine.adds.add((i, canonical(x)))
        for x in event.op.get("remove", []):
            mine.removed |= {(j, k) for j, k in mine.adds if k == canonical(x)}
        if event.gossip_from:
            other = seen[event.gossip_from]
            mine.adds |= other.adds
            mine.removed |= other.removed
        everything.adds |= mine.adds
        everything.removed |= mine.removed
    live = {k for j, k in everything.adds - everything.removed}
    return [values[k] for k in sorted(live)]


@pytest.mark.parametrize("crdt_type", CRDT_TYPES)
@FUZZ
@given(data=st.data())
def test_join_laws_and_replay(crdt_type: str, data: st.DataObject) -> None:
    events = data.draw(scenarios(crdt_type))
    states = run(crdt_type, events)
    a, b, c = (states[r] for r in REPLICAS)
    # commutative, associative, idempotent; the empty state is the identity
    assert join(a, b) == join(b, a)
    assert join(join(a, b), c) == join(a, join(b, c))
    assert join(a, a) == a
    assert join(a, empty_crdt(crdt_type)) == a
    merged = reduce(join, [a, b, c])
    # merging the replicas' states gives what the ops imply
    assert merged.value() == replay_oracle(crdt_type, events)
    # a state survives storage as JSON
    stored = json.loads(json.dumps(merged.to_json()))
    assert crdt_from_json(stored) == merged
    assert stored == merged.to_json()


@pytest.mark.parametrize("crdt_type", ["g_counter", "pn_counter", "g_set", "lww_register"])
@FUZZ
@given(data=st.data())
def test_one_state_replaying_every_op_equals_the_merged_replicas(
    crdt_type: str, data: st.DataObject
) -> None:
    """The sync service's path: every client's op applied to the one stored state."""
    events = data.draw(scenarios(crdt_type))
    state: JSON = None
    value: JSON = replay_oracle(crdt_type, [])
    for event in events:
        state, value = apply_crdt_op(state, crdt_type, event.op, event.replica, event.stamp)
    assert value == reduce(join, run(crdt_type, events).values()).value()


@FUZZ
@given(st.lists(st.tuples(st.sampled_from(REPLICAS), OPS["or_set"]), max_size=12))
@example([("r1", {"add": ["x"]}), ("r2", {"remove": ["x"]}), ("r1", {"add": ["x"]})])
def test_or_set_one_state_replay_is_sequential_set_semantics(
    ops: list[tuple[str, dict[str, Any]]],
) -> None:
    """Ops applied in one order to one state behave like a plain set: the last word counts."""
    state: JSON = None
    model: dict[str, JSON] = {}
    value: JSON = []
    for replica, op in ops:
        state, value = apply_crdt_op(state, "or_set", op, replica)
        for x in op.get("add", []):
            model[canonical(x)] = x
        for x in op.get("remove", []):
            model.pop(canonical(x), None)
    assert value == [model[k] for k in sorted(model)]
