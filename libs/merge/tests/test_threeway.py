"""Three-way JSON merge: the note's rules and worked example, field rules, properties."""

import copy
import hashlib
import json

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from syncmesh_merge import (
    ABSENT,
    HLC,
    JSON,
    InvalidConfigError,
    MergeResult,
    MissingStampError,
    Path,
    Side,
    Stamp,
    Value,
    canonical,
    json_equal,
    merge3,
    value_at,
)

FUZZ = settings(settings.get_profile("syncmesh-merge"), max_examples=300)


def theirs_wins(path: Path, base: Value, ours: Value, theirs: Value) -> Side:
    return "theirs"


def ours_wins(path: Path, base: Value, ours: Value, theirs: Value) -> Side:
    return "ours"


OLD = Stamp(HLC(1_000, 0), "client-a")
NEW = Stamp(HLC(2_000, 0), "client-b")


def test_the_notes_worked_example() -> None:
    base: JSON = {"title": "a", "tags": {"x": 1}, "n": 1}
    ours: JSON = {"title": "b", "tags": {"x": 1, "y": 2}, "n": 1}
    theirs: JSON = {"title": "c", "tags": {"x": 2}}
    # LWW with theirs newer: the only true conflict (title) goes to theirs.
    result = merge3(
        base, ours, theirs, resolve=lambda p, b, o, t: "ours" if OLD > NEW else "theirs"
    )
    assert result.document == {"tags": {"x": 2, "y": 2}, "title": "c"}
    assert [c.path for c in result.conflicts] == [("title",)]
    conflict = result.conflicts[0]
    assert (conflict.base, conflict.ours, conflict.theirs, conflict.value) == ("a", "b", "c", "c")
    assert conflict.winner == "theirs"
    assert result.sources == {
        "title": "theirs",
        "tags.x": "theirs",
        "tags.y": "ours",
        "n": "theirs",  # deleted on the server only: stays deleted
    }


def test_the_worked_example_with_an_lww_rule_and_stamps() -> None:
    base: JSON = {"title": "a", "tags": {"x": 1}, "n": 1}
    ours: JSON = {"title": "b", "tags": {"x": 1, "y": 2}, "n": 1}
    theirs: JSON = {"title": "c", "tags": {"x": 2}}
    result = merge3(
        base,
        ours,
        theirs,
        resolve=ours_wins,
        field_rules={"title": "lww"},
        ours_stamp=OLD,
        theirs_stamp=NEW,
    )
    assert result.document == {"tags": {"x": 2, "y": 2}, "title": "c"}
    assert result.conflicts[0].decided_by == "lww"


def test_rules_one_to_three() -> None:
    assert merge3({"a": 1}, {"a": 2}, {"a": 2}, resolve=ours_wins).sources == {"a": "both"}
    assert merge3({"a": 1}, {"a": 1}, {"a": 3}, resolve=ours_wins).document == {"a": 3}
    assert merge3({"a": 1}, {"a": 4}, {"a": 1}, resolve=theirs_wins).document == {"a": 4}
    both_deleted = merge3({"a": 1, "b": 1}, {"b": 1}, {"b": 1}, resolve=ours_wins)
    assert both_deleted.document == {"b": 1}
    assert both_deleted.conflicts == []


def test_absent_is_not_null() -> None:
    # ours deletes the key, theirs leaves it null: only ours changed it → deleted.
    result = merge3({"a": None}, {}, {"a": None}, resolve=theirs_wins)
    assert result.document == {}
    assert result.sources == {"a": "ours"}
    # ours sets null where the key was absent: a change, and it survives.
    assert merge3({}, {"a": None}, {}, resolve=theirs_wins).document == {"a": None}
    # null on one side, deletion on the other: both changed → delete vs modify.
    result = merge3({"a": 1}, {"a": None}, {}, resolve=theirs_wins)
    assert result.document == {"a": None}  # update_wins by default
    assert result.conflicts[0].decided_by == "update_wins"


@pytest.mark.parametrize(("ours", "theirs"), [(1, 1.0), (1, True), (0, False), (1.0, True)])
def test_equality_is_type_strict(ours: JSON, theirs: JSON) -> None:
    result = merge3({"v": "base"}, {"v": ours}, {"v": theirs}, resolve=ours_wins)
    assert len(result.conflicts) == 1
    value = value_at(result.document, ("v",))
    assert type(value) is type(ours)
    assert value == ours


def test_concurrent_creation_merges_field_wise() -> None:
    result = merge3(ABSENT, {"a": 1, "s": "x"}, {"b": 2, "s": "y"}, resolve=theirs_wins)
    assert result.document == {"a": 1, "b": 2, "s": "y"}
    assert [c.path for c in result.conflicts] == [("s",)]
    assert result.conflicts[0].base is ABSENT


def test_nested_creation_under_absent_base() -> None:
    result = merge3({}, {"o": {"a": 1}}, {"o": {"b": 2}}, resolve=theirs_wins)
    assert result.document == {"o": {"a": 1, "b": 2}}
    assert result.conflicts == []


def test_objects_over_a_non_object_base_conflict_whole() -> None:
    result = merge3({"o": "text"}, {"o": {"a": 1}}, {"o": {"b": 2}}, resolve=theirs_wins)
    assert result.document == {"o": {"b": 2}}
    assert [c.path for c in result.conflicts] == [("o",)]


def test_arrays_are_atomic() -> None:
    base: JSON = {"l": [1, 2, 3]}
    result = merge3(base, {"l": [0, 2, 3]}, {"l": [1, 2, 4]}, resolve=theirs_wins)
    assert result.document == {"l": [1, 2, 4]}  # never [0, 2, 4] by index
    assert [c.path for c in result.conflicts] == [("l",)]


def test_type_change_is_a_conflict() -> None:
    result = merge3({"v": {"a": 1}}, {"v": {"a": 2}}, {"v": [1]}, resolve=ours_wins)
    assert result.document == {"v": {"a": 2}}
    assert result.conflicts[0].path == ("v",)


@pytest.mark.parametrize(
    ("policy", "expected", "winner"),
    [("update_wins", {"p": {"a": 1, "b": 2}}, "ours"), ("delete_wins", {}, "theirs")],
)
def test_parent_delete_vs_child_edit_conflicts_at_the_parent(
    policy: str, expected: JSON, winner: str
) -> None:
    base: JSON = {"p": {"a": 1, "b": 1}}
    result = merge3(base, {"p": {"a": 1, "b": 2}}, {}, resolve=theirs_wins, delete_policy=policy)
    assert result.document == expected
    (conflict,) = result.conflicts
    assert conflict.path == ("p",)
    assert conflict.theirs is ABSENT
    assert conflict.winner == winner
    assert conflict.decided_by == policy


@pytest.mark.parametrize("policy", ["update_wins", "delete_wins"])
def test_delete_policy_is_symmetric(policy: str) -> None:
    deleting_ours = merge3({"a": 1}, {}, {"a": 2}, resolve=ours_wins, delete_policy=policy)
    deleting_theirs = merge3({"a": 1}, {"a": 2}, {}, resolve=theirs_wins, delete_policy=policy)
    assert deleting_ours.document == deleting_theirs.document
    assert deleting_ours.document == ({"a": 2} if policy == "update_wins" else {})


def test_whole_document_delete_vs_modify() -> None:
    assert merge3({"a": 1}, ABSENT, {"a": 2}, resolve=ours_wins).document == {"a": 2}
    result = merge3({"a": 1}, ABSENT, {"a": 2}, resolve=theirs_wins, delete_policy="delete_wins")
    assert result.document is ABSENT
    assert result.conflicts[0].path == ()


# --- field rules ----------------------------------------------------------------------------


def test_max_and_min_rules() -> None:
    base: JSON = {"stats": {"views": 10, "low": 5}}
    ours: JSON = {"stats": {"views": 12, "low": 3}}
    theirs: JSON = {"stats": {"views": 15, "low": 4}}
    rules = {"stats.views": "max", "stats.low": "min"}
    result = merge3(base, ours, theirs, resolve=ours_wins, field_rules=rules)
    assert result.document == {"stats": {"views": 15, "low": 3}}
    assert result.sources == {"stats.views": "resolved", "stats.low": "resolved"}
    assert [c.decided_by for c in result.conflicts] == ["max", "min"]


def test_max_tie_between_int_and_float_ignores_argument_order() -> None:
    rules = {"v": "max"}
    one = merge3({"v": 0}, {"v": 1}, {"v": 1.0}, resolve=ours_wins, field_rules=rules)
    two = merge3({"v": 0}, {"v": 1.0}, {"v": 1}, resolve=ours_wins, field_rules=rules)
    assert json_equal(one.document, two.document)
    assert json_equal(one.document, {"v": 1.0})


def test_union_rule() -> None:
    base: JSON = {"tags": ["a"]}
    ours: JSON = {"tags": ["a", "b", {"k": 1}, "b"]}
    theirs: JSON = {"tags": ["c", "a", "a"]}
    result = merge3(base, ours, theirs, resolve=theirs_wins, field_rules={"tags": "union"})
    assert result.document == {"tags": ["c", "a", "b", {"k": 1}]}
    # type-strict deduplication: 1, 1.0 and true are three items
    result = merge3(
        {"t": []}, {"t": [1, True]}, {"t": [1.0]}, resolve=theirs_wins, field_rules={"t": "union"}
    )
    assert json.dumps(result.document) == '{"t": [1.0, 1, true]}'


def test_concat_rule_arrays() -> None:
    rules = {"log": "concat"}
    extended = merge3(
        {"log": [1]}, {"log": [1, 2, 3]}, {"log": [1, 9]}, resolve=theirs_wins, field_rules=rules
    )
    assert extended.document == {"log": [1, 9, 2, 3]}
    # ours rewrote the array: what it added relative to base (a multiset difference)
    rewritten = merge3(
        {"log": [1, 2]}, {"log": [2, 7, 1, 1]}, {"log": [5]}, resolve=theirs_wins, field_rules=rules
    )
    assert rewritten.document == {"log": [5, 7, 1]}
    created = merge3({}, {"log": [1]}, {"log": [2]}, resolve=theirs_wins, field_rules=rules)
    assert created.document == {"log": [2, 1]}


def test_concat_rule_strings() -> None:
    rules = {"body": "concat"}
    appended = merge3(
        {"body": "Hello"},
        {"body": "Hello, world"},
        {"body": "Hello!"},
        resolve=theirs_wins,
        field_rules=rules,
    )
    assert appended.document == {"body": "Hello!, world"}
    rewritten = merge3(
        {"body": "Hello"}, {"body": "Bye"}, {"body": "Hi"}, resolve=theirs_wins, field_rules=rules
    )
    assert rewritten.document == {"body": "HiBye"}


def test_rule_that_does_not_fit_falls_back_to_resolve() -> None:
    result = merge3(
        {"v": 1},
        {"v": "x"},
        {"v": 2},
        resolve=ours_wins,
        resolve_name="client_wins",
        field_rules={"v": "max"},
    )
    assert result.document == {"v": "x"}
    assert result.conflicts[0].decided_by == "client_wins"


def test_rules_apply_only_where_both_changed() -> None:
    result = merge3({"v": 5}, {"v": 1}, {"v": 5}, resolve=theirs_wins, field_rules={"v": "max"})
    assert result.document == {"v": 1}  # only ours changed it: no conflict, no rule
    assert result.conflicts == []


def test_lww_rule_needs_stamps() -> None:
    with pytest.raises(MissingStampError):
        merge3({"v": 1}, {"v": 2}, {"v": 3}, resolve=ours_wins, field_rules={"v": "lww"})


def test_lww_rule_ties_on_clock_break_on_client_id() -> None:
    clock = HLC(5, 1)
    result = merge3(
        {"v": 1},
        {"v": 2},
        {"v": 3},
        resolve=theirs_wins,
        field_rules={"v": "lww"},
        ours_stamp=Stamp(clock, "zed"),
        theirs_stamp=Stamp(clock, "amy"),
    )
    assert result.document == {"v": 2}


@pytest.mark.parametrize(
    "kwargs",
    [
        {"field_rules": {"v": "largest"}},
        {"field_rules": {"v": "MAX"}},
        {"delete_policy": "server_wins"},
    ],
)
def test_bad_configuration_is_rejected(kwargs: dict[str, object]) -> None:
    with pytest.raises(InvalidConfigError):
        merge3({}, {}, {}, resolve=ours_wins, **kwargs)  # type: ignore[arg-type]


def test_result_shares_nothing_with_the_inputs() -> None:
    base: JSON = {"a": {"l": [1]}, "b": {"x": 1}}
    ours: JSON = {"a": {"l": [1, 2]}, "b": {"x": 1}}
    theirs: JSON = {"a": {"l": [1]}, "b": {"x": 1}, "c": [0]}
    snapshot = copy.deepcopy((base, ours, theirs))
    result = merge3(base, ours, theirs, resolve=ours_wins)
    assert result.document == {"a": {"l": [1, 2]}, "b": {"x": 1}, "c": [0]}
    for path in [("a", "l"), ("c",)]:
        items = value_at(result.document, path)
        assert isinstance(items, list)
        items.append(3)
    b = value_at(result.document, ("b",))
    assert isinstance(b, dict)
    b["x"] = 2
    assert (base, ours, theirs) == snapshot


def test_conflict_to_json_leaves_absent_sides_out() -> None:
    result = merge3({"a": 1}, {}, {"a": 2}, resolve=ours_wins)
    assert result.conflicts[0].to_json() == {
        "path": ["a"],
        "base": 1,
        "theirs": 2,
        "value": 2,
        "winner": "theirs",
        "decided_by": "update_wins",
    }


# --- properties -----------------------------------------------------------------------------

KEYS = st.sampled_from(["a", "b", "c"])
scalars = st.none() | st.booleans() | st.integers(-2, 2) | st.sampled_from([1.0, 0.5]) | KEYS
json_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=2) | st.dictionaries(KEYS, children, max_size=3),
    max_leaves=8,
)
documents = st.dictionaries(KEYS, json_values, max_size=3)


@st.composite
def edited(draw: st.DrawFn, value: JSON) -> JSON:
    """A version of `value` with random edits, so that the sides often touch the same paths."""
    if isinstance(value, dict) and draw(st.booleans()):
        out = {}
        for key, item in value.items():
            choice = draw(st.sampled_from(["keep", "keep", "edit", "drop"]))
            if choice == "keep":
                out[key] = item
            elif choice == "edit":
                out[key] = draw(edited(item))
        for key in draw(st.lists(KEYS, max_size=2)):
            out[key] = draw(json_values)
        return out
    return value if draw(st.booleans()) else draw(json_values)


@st.composite
def triples(draw: st.DrawFn) -> tuple[Value, Value, Value]:
    base: Value = ABSENT if draw(st.integers(0, 9)) == 0 else draw(documents)
    start: JSON = {} if base is ABSENT else base
    ours = draw(edited(start))
    theirs = draw(edited(start))
    return base, ours, theirs


def by_path(path: Path, base: Value, ours: Value, theirs: Value) -> Side:
    """A resolver that depends on the path only, so its mirror is well defined."""
    return "ours" if hashlib.sha256(repr(path).encode()).digest()[0] % 2 else "theirs"


def mirrored(path: Path, base: Value, ours: Value, theirs: Value) -> Side:
    return "theirs" if by_path(path, base, ours, theirs) == "ours" else "ours"


def all_paths(*values: Value, prefix: Path = ()) -> set[Path]:
    paths = {prefix}
    keys: set[str] = set()
    for value in values:
        if isinstance(value, dict):
            keys.update(value)
    for key in keys:
        children = [value[key] for value in values if isinstance(value, dict) and key in value]
        paths |= all_paths(*children, prefix=(*prefix, key))
    return paths


def merges_down_to(path: Path, base: Value, ours: Value, theirs: Value) -> bool:
    """Whether the merge recurses through every proper prefix of `path`."""
    for i in range(len(path)):
        prefix = path[:i]
        b, o, t = value_at(base, prefix), value_at(ours, prefix), value_at(theirs, prefix)
        if json_equal(o, t) or json_equal(o, b) or json_equal(t, b):
            return True  # settled above `path` by rules 1–3, which keep one-side changes
        if not (
            isinstance(o, dict) and isinstance(t, dict) and (b is ABSENT or isinstance(b, dict))
        ):
            return False
    return True


@FUZZ
@given(triples())
def test_merging_with_an_unchanged_side_gives_the_other(case: tuple[Value, Value, Value]) -> None:
    base, ours, _ = case
    assert json_equal(merge3(base, base, ours, resolve=by_path).document, ours)
    assert json_equal(merge3(base, ours, base, resolve=by_path).document, ours)
    assert json_equal(merge3(base, ours, ours, resolve=by_path).document, ours)
    assert merge3(base, ours, ours, resolve=by_path).conflicts == []


@FUZZ
@given(triples(), st.sampled_from(["update_wins", "delete_wins"]))
@example(({"a": 1}, {"a": 1.0}, {"a": True}), "update_wins")
@example(({"a": {"b": 1}}, {}, {"a": {"b": 2}}), "delete_wins")
def test_order_independence_under_the_mirrored_strategy(
    case: tuple[Value, Value, Value], policy: str
) -> None:
    base, ours, theirs = case
    rules = {"a": "max", "b": "min", "c": "lww", "a.b": "lww"}
    forward = merge3(
        base,
        ours,
        theirs,
        resolve=by_path,
        field_rules=rules,
        delete_policy=policy,
        ours_stamp=OLD,
        theirs_stamp=NEW,
    )
    backward = merge3(
        base,
        theirs,
        ours,
        resolve=mirrored,
        field_rules=rules,
        delete_policy=policy,
        ours_stamp=NEW,
        theirs_stamp=OLD,
    )
    assert json_equal(forward.document, backward.document)
    assert _settled(forward) == _settled(backward)


def _settled(result: MergeResult) -> set[tuple[Path, str]]:
    return {(c.path, canonical(_to_json(c.value))) for c in result.conflicts}


def _to_json(value: Value) -> JSON:
    return "<ABSENT>" if value is ABSENT else value


@FUZZ
@given(triples(), st.sampled_from(["update_wins", "delete_wins"]))
def test_paths_changed_on_one_side_only_survive(
    case: tuple[Value, Value, Value], policy: str
) -> None:
    base, ours, theirs = case
    result = merge3(base, ours, theirs, resolve=by_path, delete_policy=policy)
    for path in all_paths(base, ours, theirs):
        b, o, t = value_at(base, path), value_at(ours, path), value_at(theirs, path)
        if not merges_down_to(path, base, ours, theirs):
            continue
        if json_equal(t, b) and not json_equal(o, b):
            assert json_equal(value_at(result.document, path), o), path
        if json_equal(o, b) and not json_equal(t, b):
            assert json_equal(value_at(result.document, path), t), path


@FUZZ
@given(triples())
def test_conflicts_only_where_both_sides_changed(case: tuple[Value, Value, Value]) -> None:
    base, ours, theirs = case
    result = merge3(base, ours, theirs, resolve=by_path)
    for conflict in result.conflicts:
        path = conflict.path
        b, o, t = value_at(base, path), value_at(ours, path), value_at(theirs, path)
        assert json_equal(conflict.ours, o)
        assert json_equal(conflict.theirs, t)
        assert not json_equal(o, b)
        assert not json_equal(t, b)
        assert not json_equal(o, t)
        assert json_equal(value_at(result.document, path), conflict.value)
        assert result.sources[".".join(path)] == conflict.winner
