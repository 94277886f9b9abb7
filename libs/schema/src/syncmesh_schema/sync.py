"""Bus messages and stored records of the sync service."""

from __future__ import annotations

from typing import Annotated, ClassVar

from pydantic import Field

from .base import JSONObject, WireModel
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
    received_at: int
    reply_to: str | None = None
    session_id: str | None = None
    request_id: str | None = None


class MutationOutcome(WireModel):
    """The result of one mutation, routed back to the gateway on ``sm.results.<gateway>``."""

    session_id: str | None = None
    request_id: str | None = None
    client_id: str
    result: MutationResult


class DocumentRecord(WireModel):
    """The value of ``doc.<collection>.<doc_id>`` in the docs bucket: one committed version."""

    collection: str
    doc_id: str
    version: Annotated[int, Field(ge=1)]
    data: JSONObject | None
    deleted: bool = False
    updated_at: int
    mutation: MutationMeta
    conflict: ConflictInfo | None = None
    crdt: dict[str, JSONObject] = Field(default_factory=dict)
    """CRDT state per field (the plain value lives in ``data``)."""

    keep_none: ClassVar[frozenset[str]] = frozenset({"data"})


class ClientRecord(WireModel):
    """The value of ``client.<client_id>``: exactly-once state of one client."""

    client_id: str
    user_id: str
    last_mutation_id: int = 0
    results: dict[str, MutationResult] = Field(default_factory=dict)
    """Stored outcomes of the most recent mutations, keyed by ``str(mutation_id)``."""
