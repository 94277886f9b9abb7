"""Plain-text OT: the note's tables, validation, and TP1 / compose / cursor properties."""

import itertools
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from syncmesh_merge import (
    DeleteMismatchError,
    InvalidConfigError,
    InvalidOpError,
    MergeError,
    OpOutOfRangeError,
    ot,
)
from syncmesh_merge.ot import Component, Op

FUZZ = settings(settings.get_profile("syncmesh-merge"), max_examples=400)

# ASCII, BMP, astral (emoji, math letters), combining marks and the parts of a ZWJ sequence:
# positions are code points, so each of these is one position.
ALPHABET = ["a", "b", "é", "e", "\u0301", "😀", "𝔸", "🤸", "🏼", "\u200d", "♀", "\ufe0f"]
texts = st.lists(st.sampled_from(ALPHABET), max_size=8).map("".join)
inserts = st.lists(st.sampled_from(ALPHABET), min_size=1, max_size=4).map("".join)


# --- the note's tables ----------------------------------------------------------------------


def test_apply_example_from_the_note() -> None:
    assert ot.apply("ABCDEFG", [1, " hi ", 2, {"d": 3}]) == "A hi BCG"


TRANSFORM_TABLE: list[tuple[list[Any], list[Any], str, list[Any], str, str | None]] = [
    # op1, op2 (applied first), side, op1', doc, text after op2 then op1'
    (["x"], ["y"], "left", ["x"], "", "xy"),
    (["x"], ["y"], "right", [1, "x"], "", "yx"),
    ([1, {"d": 3}], [2, {"d": 3}], "left", [1, {"d": 1}], "ABCDEF", "AF"),
    ([1, {"d": 3}], [2, {"d": 3}], "right", [1, {"d": 1}], "ABCDEF", "AF"),
    ([2, "Q"], [1, {"d": 3}], "left", [1, "Q"], "ABCDE", "AQE"),
    ([2, "Q"], [1, {"d": 3}], "right", [1, "Q"], "ABCDE", "AQE"),
    ([{"d": 4}], [2, "ZZ"], "left", [{"d": 2}, 2, {"d": 2}], "ABCD", "ZZ"),
    ([{"d": 4}], [2, "ZZ"], "right", [{"d": 2}, 2, {"d": 2}], "ABCD", "ZZ"),
]


@pytest.mark.parametrize(("op1", "op2", "side", "expected", "doc", "text"), TRANSFORM_TABLE)
def test_transform_table(
    op1: list[Component], op2: list[Component], side: ot.Side, expected: Op, doc: str, text: str
) -> None:
    transformed = ot.transform(op1, op2, side)
    assert transformed == expected
    assert ot.apply(ot.apply(doc, op2), transformed) == text
    # The other half of the TP1 diamond reaches the same text.
    other_side: ot.Side = "right" if side == "left" else "left"
    assert ot.apply(ot.apply(doc, op1), ot.transform(op2, op1, other_side)) == text


def test_cursor_rules_from_the_note() -> None:
    assert ot.transform_position(5, [5, "ab"]) == 5  # remote insert at the caret: stay before
    assert ot.transform_position(5, [5, "ab"], is_own=True) == 7  # own insert: after it
    assert ot.transform_position(6, [2, {"d": 3}]) == 3  # inside a deleted range: its start
    assert ot.transform_position(9, [2, {"d": 3}]) == 6
    assert ot.transform_position(1, [2, {"d": 3}]) == 1
    assert ot.transform_position(4, ["xyz"]) == 7
    assert ot.transform_position(0, ["xyz"]) == 0


def test_tp2_does_not_hold_the_notes_smallest_case() -> None:
    # doc "a"; A deletes "a", B inserts "z" at 0, C inserts "a" at 1. B/A get opposite sides.
    doc = "a"
    a: list[Component] = [{"d": 1}]
    b: list[Component] = ["z"]
    c: list[Component] = [1, "a"]
    b_after_a = ot.transform(b, a, "left")
    a_after_b = ot.transform(a, b, "right")
    via_a = ot.apply(
        ot.apply(ot.apply(doc, a), b_after_a),
        ot.transform(ot.transform(c, a, "left"), b_after_a, "left"),
    )
    via_b = ot.apply(
        ot.apply(ot.apply(doc, b), a_after_b),
        ot.transform(ot.transform(c, b, "left"), a_after_b, "left"),
    )
    assert (via_a, via_b) == ("az", "za")  # why the server must impose one order


def test_transform_is_not_closed_under_compose_so_transform_against_is_stepwise() -> None:
    doc = "b"
    a: list[Component] = [{"d": 1}, "👻"]
    b0: list[Component] = [{"d": 1}]
    b1: list[Component] = ["zz"]
    after = ot.apply(ot.apply(doc, b0), b1)
    assert ot.apply(after, ot.transform_against(a, [b0, b1])) == "👻zz"
    assert ot.apply(after, ot.transform(a, ot.compose(b0, b1), "left")) == "zz👻"


def test_transform_against_is_left_transform_in_order() -> None:
    op: list[Component] = [3, "x"]
    committed: list[list[Component]] = [[1, "ab"], [{"d": 2}], [4, "y"]]
    expected = op
    for c in committed:
        expected = ot.transform(expected, c, "left")
    assert ot.transform_against(op, committed) == expected == [3, "x"]
    assert ot.transform_against([2, 1, "q", 5], []) == [3, "q"]


# --- validation -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "op",
    [
        [0],
        [-1],
        [True],
        [False, "x"],
        [""],
        [{"d": 0}],
        [{"d": -2}],
        [{"d": ""}],
        [{"d": True}],
        [{"d": 1.0}],
        [{"x": 1}],
        [{"d": 1, "x": 1}],
        [1.5],
        [None],
        [[1]],
        {"d": 1},
        "abc",
        None,
    ],
)
def test_validate_op_rejects_malformed_ops(op: object) -> None:
    with pytest.raises(InvalidOpError):
        ot.validate_op(op, 10)


@pytest.mark.parametrize(
    ("op", "doc_len"),
    [([4], 3), ([1, {"d": 3}], 3), ([{"d": "abcd"}], 3), (["x", 2, {"d": 2}], 3), ([1], 0)],
)
def test_validate_op_rejects_ops_running_past_the_end(op: list[Component], doc_len: int) -> None:
    with pytest.raises(OpOutOfRangeError):
        ot.validate_op(op, doc_len)


def test_validate_op_normalises_what_it_accepts() -> None:
    assert ot.validate_op([2, 1, "a", "b", {"d": 1}, {"d": 2}, 3], 9) == [3, "ab", {"d": 3}]
    assert ot.validate_op([{"d": "ab"}, {"d": "c"}], 3) == [{"d": "abc"}]
    assert ot.validate_op([3, {"d": 3}], 6) == [3, {"d": 3}]  # exactly to the end is fine
    assert ot.validate_op([], 0) == []
    assert ot.validate_op([5], 5) == []  # a lone trailing retain is a no-op


def test_error_tree() -> None:
    assert issubclass(OpOutOfRangeError, InvalidOpError)
    assert issubclass(DeleteMismatchError, InvalidOpError)
    assert issubclass(InvalidOpError, MergeError)
    assert issubclass(InvalidConfigError, MergeError)


def test_apply_checks_ranges_and_text_deletes() -> None:
    with pytest.raises(OpOutOfRangeError):
        ot.apply("abc", [2, {"d": 2}])
    with pytest.raises(OpOutOfRangeError):
        ot.apply("abc", [4])
    with pytest.raises(DeleteMismatchError):
        ot.apply("abc", [1, {"d": "x"}])
    with pytest.raises(InvalidOpError):
        ot.apply("abc", [True, "x"])
    assert ot.apply("abc", [1, {"d": "b"}]) == "ac"


def test_positions_are_code_points() -> None:
    person = "🤸🏼\u200d♀\ufe0f"  # one grapheme, five code points
    assert len(person) == 5
    doc = "a😀b" + person
    assert ot.apply(doc, [1, {"d": 1}]) == "ab" + person
    assert ot.apply(doc, [3, {"d": 5}, "!"]) == "a😀b!"
    # OT may split a grapheme cluster: valid, if ugly (snapping is the client's job).
    assert ot.apply(doc, [4, "X"]) == "a😀b🤸X🏼\u200d♀\ufe0f"


def test_bad_side_is_a_config_error() -> None:
    with pytest.raises(InvalidConfigError):
        ot.transform(["x"], ["y"], "middle")  # type: ignore[arg-type]


def test_transform_and_compose_validate_structure() -> None:
    with pytest.raises(InvalidOpError):
        ot.transform([0], ["y"], "left")
    with pytest.raises(InvalidOpError):
        ot.compose(["x"], [{"d": 0}])
    with pytest.raises(InvalidOpError):
        ot.transform_position(-1, [])


def test_ops_are_not_mutated() -> None:
    op1: list[Component] = [{"d": "ab"}, "x"]
    op2: list[Component] = [{"d": "a"}]
    ot.transform(op1, op2, "left")
    ot.compose(op2, op1[1:])
    merged = ot.normalize([{"d": 1}, {"d": 2}])
    assert op1 == [{"d": "ab"}, "x"]
    assert op2 == [{"d": "a"}]
    assert merged == [{"d": 3}]


def test_compose_keeps_text_deletes_invertible() -> None:
    assert ot.compose([{"d": "ab"}], [{"d": "c"}]) == [{"d": "abc"}]
    assert ot.compose([1, "xy"], [1, {"d": "x"}]) == [1, "y"]
    assert ot.compose([1, "xy"], [{"d": 1}, 2, {"d": 1}]) == [{"d": 1}, "xy", {"d": 1}]


# --- generators: an op and the text it must produce, built without `apply` ------------------


@st.composite
def op_for(draw: st.DrawFn, doc: str) -> tuple[list[Component], str]:
    """A random op on `doc` (adjacent retains, trailing retains, both delete forms allowed)."""
    op: list[Component] = []
    out: list[str] = []
    pos = 0
    for _ in range(draw(st.integers(0, 6))):
        remaining = len(doc) - pos
        kind = draw(st.sampled_from(["retain", "insert", "delete"] if remaining else ["insert"]))
        if kind == "insert":
            text = draw(inserts)
            op.append(text)
            out.append(text)
            continue
        n = draw(st.integers(1, remaining))
        if kind == "retain":
            op.append(n)
            out.append(doc[pos : pos + n])
        else:
            op.append({"d": doc[pos : pos + n] if draw(st.booleans()) else n})
        pos += n
    out.append(doc[pos:])
    return op, "".join(out)


@st.composite
def doc_and_two_ops(draw: st.DrawFn) -> tuple[str, list[Component], list[Component]]:
    doc = draw(texts)
    return doc, draw(op_for(doc))[0], draw(op_for(doc))[0]


def _assert_normal(op: Op) -> None:
    assert not op or not isinstance(op[-1], int), op
    for left, right in itertools.pairwise(op):
        assert type(left) is not type(right), op


@FUZZ
@given(st.data())
def test_apply_matches_the_model(data: st.DataObject) -> None:
    doc = data.draw(texts)
    op, expected = data.draw(op_for(doc))
    assert ot.apply(doc, op) == expected
    normal = ot.validate_op(op, len(doc))
    _assert_normal(normal)
    assert ot.apply(doc, normal) == expected
    assert ot.normalize(normal) == normal


@FUZZ
@given(doc_and_two_ops())
@example(("", ["a", "a"], ["b"]))  # un-normalised adjacent inserts must move together
@example(("a", [{"d": 1}], ["z"]))
@example(("b", [{"d": 1}, "👻"], [{"d": 1}]))
@example(("ab", [1, "😀"], [1, "\u0301"]))
@example(("e\u0301", [{"d": 2}], [1, "x"]))
def test_tp1_convergence(case: tuple[str, list[Component], list[Component]]) -> None:
    doc, a, b = case
    left = ot.transform(a, b, "left")
    right = ot.transform(b, a, "right")
    _assert_normal(left)
    _assert_normal(right)
    assert ot.apply(ot.apply(doc, b), left) == ot.apply(ot.apply(doc, a), right)


@FUZZ
@given(st.data())
def test_compose_is_sound_for_apply(data: st.DataObject) -> None:
    doc = data.draw(texts)
    a, middle = data.draw(op_for(doc))
    b, expected = data.draw(op_for(middle))
    composed = ot.compose(a, b)
    _assert_normal(composed)
    assert ot.apply(doc, composed) == expected


MARK = "\x00"  # not in ALPHABET: marks where a caret lands


@FUZZ
@given(st.data(), st.booleans())
def test_transform_position_equals_a_transformed_zero_width_insert(
    data: st.DataObject, is_own: bool
) -> None:
    doc = data.draw(texts)
    op, after = data.draw(op_for(doc))
    pos = data.draw(st.integers(0, len(doc)))
    caret: list[Component] = [pos, MARK] if pos else [MARK]
    moved = ot.apply(after, ot.transform(caret, op, "right" if is_own else "left"))
    assert ot.transform_position(pos, op, is_own) == moved.index(MARK)


@st.composite
def chain(draw: st.DrawFn, doc: str, size: int) -> tuple[list[list[Component]], str]:
    """`size` ops, each made on the text the previous one produced."""
    ops: list[list[Component]] = []
    for _ in range(size):
        op, doc = draw(op_for(doc))
        ops.append(op)
    return ops, doc


def _receive(pending: list[Op], remote: Op) -> tuple[list[Op], Op]:
    """ShareDB client transformX: pending ops go over `remote`, `remote` over them."""
    rebased: list[Op] = []
    for op in pending:
        rebased.append(ot.transform(op, remote, "left"))
        remote = ot.transform(remote, op, "right")
    return rebased, remote


@settings(FUZZ, max_examples=200)
@given(st.data())
def test_server_order_converges_with_the_client_protocol(data: st.DataObject) -> None:
    """Client sends c1 (base 0) while the server commits batch 1; after c1's ack it sends c2
    (rebased over batch 1) while the server commits batch 2. Server: transform_against."""
    doc = data.draw(texts)
    (c1, c2), _ = data.draw(chain(doc, 2))
    batch1, mid = data.draw(chain(doc, data.draw(st.integers(0, 3))))
    server, log = mid, [ot.normalize(op) for op in batch1]
    committed_c1 = ot.transform_against(c1, log[0:])
    server = ot.apply(server, committed_c1)
    log.append(committed_c1)
    batch2, server = data.draw(chain(server, data.draw(st.integers(0, 3))))
    base_c2 = len(log)
    log += [ot.normalize(op) for op in batch2]

    local = ot.apply(ot.apply(doc, c1), c2)
    pending: list[Op] = [ot.normalize(c1), ot.normalize(c2)]
    for remote in log[: len(batch1)]:
        pending, remote_here = _receive(pending, remote)
        local = ot.apply(local, remote_here)
    pending.pop(0)  # c1 acknowledged; c2 goes out, rebased over batch 1
    committed_c2 = ot.transform_against(pending[0], log[base_c2:])
    server = ot.apply(server, committed_c2)
    for remote in log[base_c2:]:
        pending, remote_here = _receive(pending, remote)
        local = ot.apply(local, remote_here)
    assert pending == [committed_c2]
    assert local == server
