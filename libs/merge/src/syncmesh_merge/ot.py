"""Plain-text operational transformation with the ot-text-unicode component model.

An op is a list of components walking the document from position 0:

- `n` (int > 0): retain (skip) n code points;
- `"text"` (non-empty str): insert it here;
- `{"d": n}` or `{"d": "text"}`: delete n code points (the text form can be inverted and is
  checked against the document by `apply`).

Positions are Unicode code points, i.e. Python `str` indices. Normal form: no empty
components, adjacent components of one kind merged, no trailing retain.

Only TP1 holds: `apply(apply(d, b), transform(a, b, "left")) ==
apply(apply(d, a), transform(b, a, "right"))`. Convergence therefore needs one total order
per document (the server's), and a stale op must be transformed against each committed op
individually (`transform_against`), never against their composition: transform is not
closed under compose.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, TypeAlias, TypedDict

from syncmesh_merge.errors import (
    DeleteMismatchError,
    InvalidConfigError,
    InvalidOpError,
    OpOutOfRangeError,
)

__all__ = [
    "Component",
    "Delete",
    "Op",
    "Side",
    "apply",
    "compose",
    "normalize",
    "transform",
    "transform_against",
    "transform_position",
    "validate_op",
]


class Delete(TypedDict):
    """Delete component: `{"d": n}` or `{"d": "the deleted text"}`."""

    d: int | str


Component: TypeAlias = int | str | Delete
Op: TypeAlias = list[Component]
Side: TypeAlias = Literal["left", "right"]


def _dlen(d: int | str) -> int:
    return d if isinstance(d, int) else len(d)


def _delete_size(component: object) -> int:
    """Length of a delete component, or InvalidOpError if it is not one."""
    if not isinstance(component, dict) or component.keys() != {"d"}:
        raise InvalidOpError(f"op component is not a retain, insert or delete: {component!r}")
    d = component["d"]
    if isinstance(d, bool) or not isinstance(d, int | str):
        raise InvalidOpError(f"delete must hold a count or the deleted text: {component!r}")
    size = _dlen(d)
    if size <= 0:
        raise InvalidOpError(f"delete must remove at least one code point: {component!r}")
    return size


def _input_size(component: object) -> int:
    """Input positions a component consumes (0 for inserts); InvalidOpError if malformed."""
    # `type(...) is` rather than isinstance: a bool is an int to Python, never a retain.
    if type(component) is int:
        if component <= 0:
            raise InvalidOpError(f"retain must be positive: {component!r}")
        return component
    if type(component) is str:
        if not component:
            raise InvalidOpError("insert must not be empty")
        return 0
    if isinstance(component, bool):
        raise InvalidOpError(f"op component is a boolean, not a retain: {component!r}")
    return _delete_size(component)


def _check_structure(op: object) -> Sequence[Component]:
    if not isinstance(op, list | tuple):
        raise InvalidOpError(f"op must be a list of components, got {type(op).__name__}")
    # Inlined type tests: this runs on every transform/compose, the hot path of a server.
    for c in op:
        kind = type(c)
        if kind is int:
            if c <= 0:
                raise InvalidOpError(f"retain must be positive: {c!r}")
        elif kind is str:
            if not c:
                raise InvalidOpError("insert must not be empty")
        else:
            _input_size(c)
    return op


def _check_side(side: str) -> None:
    if side != "left" and side != "right":
        raise InvalidConfigError(f"side must be 'left' or 'right', got {side!r}")


def _append(out: Op, c: Component) -> None:
    """Append `c` to `out`, merging with the last component of the same kind."""
    last = out[-1] if out else None
    if type(c) is int:
        if c == 0:
            return
        if type(last) is int:
            out[-1] = last + c
            return
    elif type(c) is str:
        if not c:
            return
        if type(last) is str:
            out[-1] = last + c
            return
    elif isinstance(c, dict):
        d = c["d"]
        if d == 0 or d == "":
            return
        if isinstance(last, dict):
            prev = last["d"]
            # Keep the text form only when both halves have it (invertibility survives).
            merged: int | str = (
                prev + d if isinstance(prev, str) and isinstance(d, str) else _dlen(prev) + _dlen(d)
            )
            out[-1] = {"d": merged}
            return
        c = {"d": d}  # never share a dict with the caller's op
    out.append(c)


def _trim(out: Op) -> Op:
    if out and isinstance(out[-1], int):
        out.pop()
    return out


def _dslice(d: int | str, start: int, end: int | None = None) -> int | str:
    if isinstance(d, str):
        return d[start:end]
    return (d if end is None else min(d, end)) - start


class _Reader:
    """Reads an op piecewise. Past its end it yields retains: an op need not reach the end."""

    __slots__ = ("_idx", "_offset", "_op")

    def __init__(self, op: Sequence[Component]) -> None:
        self._op = op
        self._idx = 0
        self._offset = 0

    def next_is_insert(self) -> bool:
        return self._idx < len(self._op) and isinstance(self._op[self._idx], str)

    def take_rest(self) -> Component | None:
        """The rest of the current component, or None at the end."""
        if self._idx == len(self._op):
            return None
        c = self._op[self._idx]
        offset = self._offset
        self._idx += 1
        self._offset = 0
        if isinstance(c, int):
            return c - offset
        if isinstance(c, str):
            return c[offset:]
        return {"d": _dslice(c["d"], offset)}

    def take(self, n: int, *, split_inserts: bool) -> Component:
        """Take at most n positions of the current component.

        Retains always split at n. With `split_inserts` (compose: n counts output positions)
        inserts split and deletes come whole; without it (transform: n counts input
        positions) deletes split and inserts come whole.
        """
        if self._idx == len(self._op):
            return n
        c = self._op[self._idx]
        offset = self._offset
        if isinstance(c, int):
            size = c - offset
        elif isinstance(c, str):
            size = len(c) - offset if split_inserts else -1
        else:
            size = _dlen(c["d"]) - offset if not split_inserts else -1
        if size == -1 or size <= n:
            rest = self.take_rest()
            assert rest is not None
            return rest
        self._offset += n
        if isinstance(c, int):
            return n
        if isinstance(c, str):
            return c[offset : offset + n]
        return {"d": _dslice(c["d"], offset, offset + n)}


def normalize(op: Sequence[Component]) -> Op:
    """Normal form of a structurally valid op: merged neighbours, no trailing retain."""
    _check_structure(op)
    out: Op = []
    for c in op:
        _append(out, c)
    return _trim(out)


def validate_op(op: object, doc_len: int) -> Op:
    """Check a client op against a document of `doc_len` code points; return it normalised.

    Raises InvalidOpError for anything but positive retains, non-empty inserts and positive
    deletes (booleans are not retains), and OpOutOfRangeError when retains and deletes
    together run past the end of the document. A trailing retain and adjacent components of
    one kind are accepted and normalised away.
    """
    checked = _check_structure(op)
    consumed = 0
    for c in checked:
        consumed += _input_size(c)
    if consumed > doc_len:
        raise OpOutOfRangeError(f"op covers {consumed} code points but the document has {doc_len}")
    return normalize(checked)


def apply(doc: str, op: Sequence[Component]) -> str:
    """Apply `op` to `doc`. Raises InvalidOpError (or a subclass) and leaves nothing half done."""
    parts: list[str] = []
    pos = 0
    size = len(doc)
    for c in op:
        if type(c) is str:
            if not c:
                raise InvalidOpError("insert must not be empty")
            parts.append(c)
            continue
        n = _input_size(c)
        end = pos + n
        if end > size:
            raise OpOutOfRangeError(f"op runs to position {end} of a {size}-code-point document")
        if type(c) is int:
            parts.append(doc[pos:end])
        else:
            assert isinstance(c, dict)
            text = c["d"]
            if isinstance(text, str) and doc[pos:end] != text:
                raise DeleteMismatchError(
                    f"delete at {pos} names {text!r} but the document holds {doc[pos:end]!r}"
                )
        pos = end
    parts.append(doc[pos:])
    return "".join(parts)


def transform(op: Sequence[Component], other: Sequence[Component], side: Side) -> Op:
    """Rewrite `op` to apply after `other`, both made against the same document.

    `side` breaks the tie when both insert at one position: "left" puts op's text first.
    The two ops of a pair must get opposite sides. Rules: a delete never swallows a
    concurrent insert; overlapping deletes keep only what `other` left; an insert inside a
    range `other` deleted survives at the cut.
    """
    _check_side(side)
    _check_structure(op)
    _check_structure(other)
    out: Op = []
    reader = _Reader(op)
    for c2 in other:
        if isinstance(c2, int):
            length = c2
            while length > 0:
                c1 = reader.take(length, split_inserts=False)
                _append(out, c1)
                if isinstance(c1, int):
                    length -= c1
                elif isinstance(c1, dict):
                    length -= _dlen(c1["d"])
        elif isinstance(c2, str):
            # Take every adjacent insert of op: split around other's text, an un-normalised
            # ["a", "a"] would break TP1 (found by hypothesis, kept as an @example).
            while side == "left" and reader.next_is_insert():
                first = reader.take_rest()
                assert first is not None
                _append(out, first)
            _append(out, len(c2))
        else:
            length = _dlen(c2["d"])
            while length > 0:
                c1 = reader.take(length, split_inserts=False)
                if isinstance(c1, int):
                    length -= c1  # retained text is gone: nothing to emit
                elif isinstance(c1, str):
                    _append(out, c1)  # the insert survives at the cut
                else:
                    length -= _dlen(c1["d"])  # already deleted by `other`
    while (rest := reader.take_rest()) is not None:
        _append(out, rest)
    return _trim(out)


def compose(a: Sequence[Component], b: Sequence[Component]) -> Op:
    """One op doing `a` then `b`: `apply(d, compose(a, b)) == apply(apply(d, a), b)`.

    Only for a client's own consecutive ops: transform is not closed under compose.
    """
    _check_structure(a)
    _check_structure(b)
    out: Op = []
    reader = _Reader(a)
    for c in b:
        if isinstance(c, int):
            length = c
            while length > 0:
                chunk = reader.take(length, split_inserts=True)
                _append(out, chunk)
                if isinstance(chunk, int):
                    length -= chunk
                elif isinstance(chunk, str):
                    length -= len(chunk)
        elif isinstance(c, str):
            _append(out, c)
        else:
            d = c["d"]
            length = _dlen(d)
            offset = 0
            while offset < length:
                chunk = reader.take(length - offset, split_inserts=True)
                if isinstance(chunk, int):
                    _append(out, {"d": _dslice(d, offset, offset + chunk)})
                    offset += chunk
                elif isinstance(chunk, str):
                    offset += len(chunk)  # deleting what `a` inserted: both vanish
                else:
                    _append(out, chunk)  # `a`'s own delete stays
    while (rest := reader.take_rest()) is not None:
        _append(out, rest)
    return _trim(out)


def transform_position(pos: int, op: Sequence[Component], is_own: bool = False) -> int:
    """Where a caret at `pos` ends up after `op`.

    A remote insert exactly at the caret goes after it (the caret stays before the text);
    with `is_own` the caret follows the insert. A caret inside a deleted range moves to its
    start. Equivalent to transforming a zero-width insert at `pos` against `op` with side
    "left" (remote) or "right" (own).
    """
    if type(pos) is not int or pos < 0:
        raise InvalidOpError(f"position must be a non-negative integer: {pos!r}")
    _check_structure(op)
    consumed = 0  # input position reached
    produced = 0  # output position reached
    for c in op:
        if isinstance(c, int):
            if pos < consumed + c:
                return produced + pos - consumed
            consumed += c
            produced += c
        elif isinstance(c, str):
            if pos == consumed and not is_own:
                return produced
            produced += len(c)
        else:
            n = _dlen(c["d"])
            if pos < consumed + n:
                return produced
            consumed += n
    return produced + pos - consumed


def transform_against(op: Sequence[Component], committed_ops: Sequence[Sequence[Component]]) -> Op:
    """Rebase a stale op over the ops committed since its base, in server order.

    Each committed op is applied individually with side "left" (ShareDB's server
    convention; the client's transformX gives the committed op "right").
    """
    result: Op = normalize(op)
    for committed in committed_ops:
        result = transform(result, committed, "left")
    return result
