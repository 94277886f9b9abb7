"""Bus messages and stored records of the sync service."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar

from pydantic import Field

from .base import JSONObject, WireModel
from .codes import ErrorCode
from .events import MutationMeta
from .mutations import ConflictInfo, Mutation, MutationResult


class MutationIntake(WireModel):
    """A mutation accepted by a gateway, on ``sm.mut.<collection>.<doc_id>``.

    ``reply_to`` names the gateway results subject and ``session_id``/``request_id`` the
    session and frame waiting for the outcome; both may be gone by the time sync answers,
    which is fine: the outcome is also stored for the client's retry.
    """

    mutation: Mutation
    user_id: str
    may_write: bool = True
    """Whether the token's ``write`` claim covers the collection (checked by the gateway;
    a mutation outside it is still accepted, and consumed as ``rejected``)."""
    received_at: int
    reply_to: str | None = None
    session_id: str | None = None
    request_id: str | None = None


class MutationOutcome(WireModel):
    """The outcome of one mutation, routed back to the gateway on ``sm.results.<gateway>``:
    a ``result``, or an ``error`` when the mutation was refused without consuming its id
    (``out_of_order`` with ``expected``, ``forbidden``)."""

    session_id: str | None = None
    request_id: str | None = None
    client_id: str
    mutation_id: int
    result: MutationResult | None = None
    error_code: ErrorCode | None = None
    error_message: str | None = None
    expected: int | None = None


class TextOpRecord(WireModel):
    """A text op as committed: later stale ops are transformed against these, one by one."""

    field: str
    ops: list[Any]


class DocumentRecord(WireModel):
    """The value of ``doc.<collection>.<doc_id>`` in the docs bucket: one committed version."""

    collection: str
    doc_id: str
    version: Annotated[int, Field(ge=1)]
    data: JSONObject | None
    deleted: bool = False
    updated_at: int
    stamp: str = ""
    """Hybrid logical clock of the write (orders last/first-writer-wins and LWW registers)."""
    mutation: MutationMeta
    conflict: ConflictInfo | None = None
    crdt: dict[str, JSONObject] = Field(default_factory=dict)
    """CRDT state per field (the plain value lives in ``data``)."""
    text_op: TextOpRecord | None = None
    """For ``text`` commits: the op as applied at this version (the OT history)."""
    writers: dict[str, tuple[int, int]] = Field(default_factory=dict)
    """``client_id`` → ``(mutation_id, version)`` of its last commit to this document, most
    recent last (bounded). Tells at once whether, and as which version, a retried mutation
    already committed here — even when that version has left the kept history."""
    writers_truncated: bool = False
    """Older writers were dropped from ``writers``: a client not listed needs a history scan."""

    keep_none: ClassVar[frozenset[str]] = frozenset({"data"})


class ClientRecord(WireModel):
    """The value of ``client.<client_id>``: exactly-once state of one client.

    The newest outcomes are kept here; every outcome is also stored under
    ``result.<client_id>.<mutation_id>`` (with a long TTL) for retries that come much later.
    """

    client_id: str
    user_id: str
    last_mutation_id: int = 0
    results: dict[str, MutationResult] = Field(default_factory=dict)
    """Outcomes of the most recent mutations, keyed by ``str(mutation_id)``."""
    updated_at: int = 0
