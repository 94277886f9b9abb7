"""Conflict-resolver messages: policies, resolve request/reply, parked manual conflicts."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from .base import ClientInput, JSONObject, JSONValue, WireModel
from .codes import ErrorCode
from .mutations import Mutation, MutationKind, MutationResult, Strategy

FieldRuleKind = Literal["max", "min", "union", "concat", "lww"]
DeletePolicy = Literal["update_wins", "delete_wins"]


class CollectionPolicy(WireModel):
    """How a collection resolves conflicts; stored in the policies bucket."""

    collection: str
    strategy: Strategy = "server_wins"
    fallback: Strategy = "server_wins"
    """Resolves a true conflict under ``merge``."""
    field_rules: dict[str, FieldRuleKind] = Field(default_factory=dict)
    """Dotted field path → rule that resolves a both-sides change of that field."""
    delete_policy: DeletePolicy = "update_wins"
    history: int = Field(default=64, ge=1, le=64)


class ResolveRequest(WireModel):
    """Sync → resolver on ``sm.resolve``: a stale mutation to reconcile."""

    mutation: Mutation
    user_id: str
    base: JSONObject | None
    mine: JSONObject | None
    theirs: JSONObject | None
    base_version: int
    theirs_version: int
    policy: CollectionPolicy
    mine_stamp: str = ""
    theirs_stamp: str = ""


class ResolveReply(WireModel):
    """Resolver → sync: the resolved document, or why not."""

    outcome: Literal["resolved", "rejected", "manual"]
    strategy: Strategy
    data: JSONObject | None = None
    deleted: bool = False
    fields: list[str] = Field(default_factory=list)
    """Paths that were in conflict."""
    sources: dict[str, str] = Field(default_factory=dict)
    """Path → where its value came from (``mine``, ``theirs``, ``both``, a rule name)."""
    conflict_id: str | None = None


class ManualConflict(WireModel):
    """A conflict parked for a person, in the conflicts bucket."""

    conflict_id: str
    collection: str
    doc_id: str
    user_id: str
    client_id: str
    mutation_id: int
    base: JSONValue = None
    mine: JSONValue = None
    theirs: JSONValue = None
    theirs_version: int
    created_at: int
    resolved_at: int | None = None
    choice: Literal["mine", "theirs", "custom"] | None = None


# --- resolver: errors, audit records, settling a parked conflict -----------------------

Choice = Literal["mine", "theirs", "custom"]


class ResolveError(WireModel):
    """Resolver → sync on ``sm.resolve`` instead of a :class:`ResolveReply` when nothing can
    be decided: a malformed request (``bad_request``) or a collection policy the strategies
    refuse (``bad_request``, e.g. ``fallback: "merge"`` or a missing stamp). ``outcome`` lets
    a reader tell it from a reply before validating either."""

    outcome: Literal["error"] = "error"
    error_code: ErrorCode
    error_message: str


class ResolutionRecord(WireModel):
    """One resolution, on ``sm.resolution.<collection>`` (stream ``SM_RESOLUTIONS``): the
    resolver's audit log. ``resolved`` / ``rejected`` / ``manual`` answer a
    :class:`ResolveRequest`; ``settled`` records a parked conflict decided by a person."""

    collection: str
    doc_id: str
    client_id: str
    mutation_id: int
    user_id: str
    kind: MutationKind | None = None
    outcome: Literal["resolved", "rejected", "manual", "settled"]
    strategy: Strategy
    """The strategy that decided (under ``merge`` without a base: the fallback)."""
    requested: Strategy
    """The strategy asked for: the mutation's override, else the collection's."""
    base_version: int
    theirs_version: int
    fields: list[str] = Field(default_factory=list)
    sources: dict[str, str] = Field(default_factory=dict)
    whole_document: bool = False
    """No base was known: mine and theirs were compared as whole documents."""
    deleted: bool = False
    conflict_id: str | None = None
    choice: Choice | None = None
    version: int | None = None
    """``settled``: the document version the decision produced (if it wrote one)."""
    decided_by: str | None = None
    """``settled``: who decided — the conflict's user, or ``admin``."""
    decided_at: int


class ConflictResolveRequest(WireModel):
    """Gateway → resolver on ``sm.conflict.resolve`` (core request/reply): a person decides a
    parked conflict (the ``conflict_resolve`` frame, PROTOCOL.md §3). ``user_id`` is the
    token's user: only the conflict's user may decide it."""

    conflict_id: str = Field(min_length=1, max_length=256)
    choice: Choice
    data: JSONObject | None = None
    """The whole document, for ``custom``."""
    user_id: str = Field(min_length=1, max_length=256)
    write: list[str] | None = None
    """The token's ``write`` claim (``None``: unrestricted). The gateway does not know the
    conflict's collection, so the resolver checks it: ``mine`` / ``custom`` outside it are
    ``forbidden``."""

    @model_validator(mode="after")
    def _custom_needs_data(self) -> ConflictResolveRequest:
        if self.choice == "custom" and self.data is None:
            raise ValueError("choice 'custom' needs data (the whole document)")
        return self


class ConflictResolveBody(ClientInput):
    """Body of the resolver's ``POST /admin/conflicts/{conflict_id}/resolve``."""

    choice: Choice
    data: JSONObject | None = None

    @model_validator(mode="after")
    def _custom_needs_data(self) -> ConflictResolveBody:
        if self.choice == "custom" and self.data is None:
            raise ValueError("choice 'custom' needs data (the whole document)")
        return self


class ConflictResolveReply(WireModel):
    """Resolver → gateway: the ``result`` of the mutation that settled the conflict, or an
    error (``not_found`` unknown or already settled, ``forbidden`` not the conflict's user,
    ``bad_request``, ``unavailable`` sync did not answer in time — retrying is safe).

    ``mine`` / ``custom`` write a new mutation (``client_id`` ``cr-<conflict_id>``,
    ``mutation_id`` 1) and ``result`` is sync's answer to it; ``theirs`` writes nothing and
    ``result`` is ``rejected`` for the original mutation, the document staying theirs."""

    conflict_id: str | None = None
    """``None`` only when the request could not be read at all."""
    result: MutationResult | None = None
    client_id: str | None = None
    mutation_id: int | None = None
    error_code: ErrorCode | None = None
    error_message: str | None = None
