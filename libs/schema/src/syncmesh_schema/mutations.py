"""Mutations and their results (PROTOCOL.md §4).

A mutation is validated structurally here (ids, kinds, payload shape, op shapes); rules that
need the document (does a text op fit the string, does a ``create`` target exist) belong to
the sync service and the merge library.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, StrictInt, TypeAdapter, field_validator, model_validator

from .base import ClientInput, JSONObject, JSONValue, WireModel
from .ids import ClientId, Collection, DocId

MutationKind = Literal["create", "set", "patch", "delete", "text", "crdt"]
Strategy = Literal[
    "server_wins", "client_wins", "last_writer_wins", "first_writer_wins", "merge", "manual"
]
ResultStatus = Literal["applied", "duplicate", "rejected", "manual"]
CrdtType = Literal["g_counter", "pn_counter", "g_set", "or_set", "lww_register"]

FieldName = Annotated[str, Field(min_length=1, max_length=256)]
PositiveInt = Annotated[StrictInt, Field(gt=0)]


# --- text ops: int n = retain n, str s = insert s, {"d": n | "text"} = delete -------------


class TextDelete(ClientInput):
    """Delete component; ``d`` is a count or the deleted text itself (invertible form)."""

    d: PositiveInt | Annotated[str, Field(min_length=1)]


TextComponent = PositiveInt | Annotated[str, Field(min_length=1)] | TextDelete


class TextPayload(ClientInput):
    """``text`` mutation payload: OT ops on one string field, positions in code points."""

    field: FieldName
    ops: Annotated[list[TextComponent], Field(min_length=1, max_length=100_000)]


# --- CRDT ops --------------------------------------------------------------------------


class CounterInc(ClientInput):
    inc: PositiveInt


class CounterDec(ClientInput):
    dec: PositiveInt


class SetAdd(ClientInput):
    add: list[JSONValue]


class SetRemove(ClientInput):
    remove: list[JSONValue]


class RegisterSet(ClientInput):
    set: JSONValue


_CRDT_OPS: dict[str, TypeAdapter[Any]] = {
    "g_counter": TypeAdapter(CounterInc),
    "pn_counter": TypeAdapter(CounterInc | CounterDec),
    "g_set": TypeAdapter(SetAdd),
    "or_set": TypeAdapter(SetAdd | SetRemove),
    "lww_register": TypeAdapter(RegisterSet),
}


class CrdtPayload(ClientInput):
    """``crdt`` mutation payload: one op on one CRDT field."""

    field: FieldName
    type: CrdtType
    op: JSONObject

    @model_validator(mode="after")
    def _op_matches_type(self) -> CrdtPayload:
        _CRDT_OPS[self.type].validate_python(self.op)
        return self


_EMPTY = TypeAdapter(dict[str, Any])


class Mutation(ClientInput):
    """One client mutation. ``payload`` keeps the client's JSON exactly; its shape is checked
    against ``kind`` on validation (``text_payload`` / ``crdt_payload`` give the typed view)."""

    client_id: ClientId
    mutation_id: PositiveInt
    collection: Collection
    doc_id: DocId
    base_version: Annotated[StrictInt, Field(ge=0)]
    kind: MutationKind
    payload: JSONObject
    strategy: Strategy | None = None

    @model_validator(mode="after")
    def _payload_matches_kind(self) -> Mutation:
        if self.kind == "delete" and self.payload:
            raise ValueError("delete takes an empty payload {}")
        if self.kind == "text":
            TextPayload.model_validate(self.payload)
        elif self.kind == "crdt":
            CrdtPayload.model_validate(self.payload)
        return self

    @property
    def key(self) -> str:
        """``client_id:mutation_id`` — the intake ``Nats-Msg-Id``."""
        return f"{self.client_id}:{self.mutation_id}"

    def text_payload(self) -> TextPayload:
        return TextPayload.model_validate(self.payload)

    def crdt_payload(self) -> CrdtPayload:
        return CrdtPayload.model_validate(self.payload)


class ConflictInfo(WireModel):
    """How a conflict was handled. Automatic: ``strategy`` + ``fields``; ``manual``:
    ``conflict_id`` + ``base`` / ``mine`` / ``theirs`` (whole documents)."""

    strategy: Strategy | None = None
    fields: list[str] | None = None
    conflict_id: str | None = None
    base: JSONValue = None
    mine: JSONValue = None
    theirs: JSONValue = None


class MutationResult(WireModel):
    """Outcome of one mutation (the ``result`` frame's fields, without ``type``/``re``).

    ``outcome`` (extension) is the original status carried by a ``duplicate``; ``reason``
    (extension) says why a mutation was ``rejected``.
    """

    mutation_id: int
    status: ResultStatus
    version: int
    data: JSONValue = None
    conflict: ConflictInfo | None = None
    outcome: ResultStatus | None = None
    reason: str | None = None

    @field_validator("outcome")
    @classmethod
    def _outcome_not_duplicate(cls, value: ResultStatus | None) -> ResultStatus | None:
        if value == "duplicate":
            raise ValueError("outcome is the original status, never 'duplicate'")
        return value

    def as_duplicate(self) -> MutationResult:
        """The answer to a retry: ``duplicate``, carrying this original outcome and version."""
        original = self.outcome if self.status == "duplicate" else self.status
        return self.model_copy(update={"status": "duplicate", "outcome": original})

    @classmethod
    def forgotten(cls, mutation_id: int) -> MutationResult:
        """A retry of a mutation processed so long ago that its outcome is no longer kept."""
        return cls(
            mutation_id=mutation_id,
            status="duplicate",
            version=0,
            reason="processed before; its outcome is no longer stored",
        )
