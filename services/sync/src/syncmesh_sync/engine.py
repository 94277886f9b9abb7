"""What a mutation does to a document — pure functions, no I/O.

:func:`plan` looks at one mutation and the current committed document and says what to do:
commit a new version, reject (the id is still consumed), or ask the conflict-resolver
because the mutation was written against an older version. ``text`` and ``crdt`` mutations
never need the resolver: text ops are transformed against the ops committed since their base
(OT, server order), CRDT ops commute.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from syncmesh_merge import MergeError, apply_crdt_op, apply_merge_patch, ot
from syncmesh_schema.events import MutationMeta
from syncmesh_schema.mutations import ConflictInfo, Mutation
from syncmesh_schema.sync import DocumentRecord, TextOpRecord


@dataclass(frozen=True)
class DocState:
    """The current committed document (``version == 0``: never existed)."""

    collection: str
    doc_id: str
    version: int = 0
    data: dict[str, Any] | None = None
    deleted: bool = False
    crdt: dict[str, dict[str, Any]] = field(default_factory=dict)
    revision: int = 0
    """KV revision of the record (the compare-and-set guard); 0 when there is none."""
    stamp: str = ""
    writers: dict[str, tuple[int, int]] = field(default_factory=dict)
    writers_truncated: bool = False

    def committed(self, client_id: str, mutation_id: int) -> int | bool | None:
        """The version at which this client's ``mutation_id`` committed; ``True`` when it did
        at an unknown version (a later mutation of the client is listed); ``False`` when it
        did not; ``None`` when only a history scan can tell."""
        last = self.writers.get(client_id)
        if last is None:
            return None if self.writers_truncated else False
        last_mid, version = last
        if last_mid == mutation_id:
            return version
        return last_mid > mutation_id

    @property
    def exists(self) -> bool:
        return self.version > 0 and not self.deleted

    @classmethod
    def from_record(cls, record: DocumentRecord, revision: int) -> DocState:
        return cls(
            record.collection,
            record.doc_id,
            record.version,
            record.data,
            record.deleted,
            dict(record.crdt),
            revision,
            record.stamp,
            dict(record.writers),
            record.writers_truncated,
        )


@dataclass(frozen=True)
class Commit:
    """Write a new version."""

    data: dict[str, Any] | None
    deleted: bool = False
    crdt: dict[str, dict[str, Any]] = field(default_factory=dict)
    text_op: TextOpRecord | None = None
    conflict: ConflictInfo | None = None


@dataclass(frozen=True)
class Reject:
    """Consume the id without changing the document."""

    reason: str
    conflict: ConflictInfo | None = None


@dataclass(frozen=True)
class NeedsResolver:
    """The base is behind: base / mine / theirs go to the conflict-resolver."""

    mine: dict[str, Any] | None
    mine_deleted: bool


Plan = Commit | Reject | NeedsResolver


def intended(
    kind: str, payload: dict[str, Any], base: dict[str, Any] | None
) -> dict[str, Any] | None:
    """The whole document the client meant (``None`` = deleted) for create/set/patch/delete."""
    if kind in ("create", "set"):
        return payload
    if kind == "patch":
        merged = apply_merge_patch(base if base is not None else {}, payload)
        assert isinstance(merged, dict)  # an object patch on an object stays an object
        return merged
    return None


def keep_crdt(
    data: dict[str, Any] | None, crdt: dict[str, dict[str, Any]], old: dict[str, Any] | None
) -> dict[str, dict[str, Any]]:
    """CRDT state survives a whole-document write only where the plain value is unchanged."""
    if data is None:
        return {}
    return {
        f: st for f, st in crdt.items() if old is not None and data.get(f, ...) == old.get(f, ...)
    }


def plan(
    mutation: Mutation,
    current: DocState,
    *,
    text_history: Sequence[DocumentRecord] | None = None,
    stamp: str = "",
) -> Plan:
    """Decide what ``mutation`` does to ``current``.

    ``text_history`` must hold the committed records of versions ``base .. current`` when a
    ``text`` mutation is stale; ``stamp`` orders ``lww_register`` writes (a hybrid logical
    clock value)."""
    kind, payload, base = mutation.kind, mutation.payload, mutation.base_version
    if base > current.version:
        return Reject(f"base_version {base} is ahead of the document (version {current.version})")
    if kind == "create":
        if current.exists:
            return Reject("document exists: create only makes new documents (use set or patch)")
        return Commit(data=payload)
    if kind == "crdt":
        return _crdt(mutation, current, stamp)
    if kind == "text":
        return _text(mutation, current, text_history or ())
    if kind == "delete" and not current.exists:
        return Reject("document does not exist")
    if base < current.version:
        return NeedsResolver(
            mine=None if kind == "delete" else intended(kind, payload, None),
            mine_deleted=kind == "delete",
        )
    if kind == "delete":
        return Commit(data=None, deleted=True)
    data = intended(kind, payload, current.data if current.exists else None)
    return Commit(data=data, crdt=keep_crdt(data, current.crdt, current.data))


def _crdt(mutation: Mutation, current: DocState, stamp: str) -> Plan:
    p = mutation.crdt_payload()
    data = dict(current.data) if current.exists and current.data is not None else {}
    crdt = dict(current.crdt) if current.exists else {}
    state = crdt.get(p.field)
    if state is not None and state.get("type") != p.type:
        return Reject(f"field {p.field!r} is a {state.get('type')}, not a {p.type}")
    if state is None and p.field in data:
        return Reject(f"field {p.field!r} holds a plain value, not a {p.type}")
    try:
        new_state, value = apply_crdt_op(state, p.type, p.op, mutation.client_id, stamp or None)
    except MergeError as exc:
        return Reject(f"invalid {p.type} op: {exc}")
    crdt[p.field] = new_state
    data[p.field] = value
    return Commit(data=data, crdt=crdt)


def _text(mutation: Mutation, current: DocState, history: Sequence[DocumentRecord]) -> Plan:
    p = mutation.text_payload()
    ops: list[Any] = list(mutation.payload["ops"])
    if not current.exists:
        if mutation.base_version != 0 or current.version > 0:
            return Reject("document does not exist")
        text, data = "", {}
    else:
        data = dict(current.data or {})
        value = data.get(p.field, "")
        if not isinstance(value, str):
            return Reject(f"field {p.field!r} is not a string")
        text = value
    if mutation.base_version < current.version:
        committed = committed_text_ops(mutation.base_version, current.version, p.field, history)
        if isinstance(committed, Reject):
            return committed
        try:
            ops = ot.transform_against(ot.normalize(ops), committed)
        except MergeError as exc:
            return Reject(f"invalid text op: {exc}")
    try:
        ops = ot.validate_op(ops, len(text))
        new_text = ot.apply(text, ops)
    except MergeError as exc:
        return Reject(f"invalid text op: {exc}")
    data[p.field] = new_text
    return Commit(
        data=data,
        crdt=dict(current.crdt) if current.exists else {},
        text_op=TextOpRecord(field=p.field, ops=list(ops)),
    )


def committed_text_ops(
    base: int, head: int, field_name: str, history: Sequence[DocumentRecord]
) -> list[list[Any]] | Reject:
    """The text ops on ``field_name`` committed after ``base`` up to ``head``, in order.

    ``history`` holds the records of versions ``base .. head`` (``base`` itself only when it
    is ≥ 1). A commit that rewrote the field by other means cannot be transformed against,
    and a window that does not reach back to ``base`` means the history was trimmed."""
    by_version = {r.version: r for r in history}
    previous = by_version.get(base)
    if base >= 1 and previous is None:
        return Reject(
            f"base_version {base} is older than the kept history: "
            "fetch the document and redo the edit"
        )
    ops: list[list[Any]] = []
    for version in range(base + 1, head + 1):
        record = by_version.get(version)
        if record is None:
            return Reject(f"version {version} is no longer in the history: fetch the document")
        if record.text_op is not None and record.text_op.field == field_name:
            ops.append(record.text_op.ops)
        else:
            before = (previous.data or {}) if previous is not None and not previous.deleted else {}
            after = record.data or {}
            if record.deleted or after.get(field_name, ...) != before.get(field_name, ...):
                return Reject(
                    f"field {field_name!r} was rewritten by a non-text change since version "
                    f"{base}: fetch the document and redo the edit"
                )
        previous = record
    return ops


MAX_WRITERS = 1024


def record_for(
    mutation: Mutation, current: DocState, commit: Commit, *, user_id: str, now_ms: int, stamp: str
) -> DocumentRecord:
    """The record of the new version."""
    writers = {k: v for k, v in current.writers.items() if k != mutation.client_id}
    writers[mutation.client_id] = (mutation.mutation_id, current.version + 1)
    truncated = current.writers_truncated
    while len(writers) > MAX_WRITERS:
        del writers[next(iter(writers))]
        truncated = True
    return DocumentRecord(
        collection=mutation.collection,
        doc_id=mutation.doc_id,
        version=current.version + 1,
        data=None if commit.deleted else commit.data,
        deleted=commit.deleted,
        updated_at=now_ms,
        stamp=stamp,
        mutation=MutationMeta(
            client_id=mutation.client_id,
            mutation_id=mutation.mutation_id,
            user_id=user_id,
            kind=mutation.kind,
        ),
        conflict=commit.conflict,
        crdt=commit.crdt,
        text_op=commit.text_op,
        writers=writers,
        writers_truncated=truncated,
    )
