"""Conflict-resolver messages: policies, resolve request/reply, parked manual conflicts."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from .base import JSONObject, JSONValue, WireModel
from .mutations import Mutation, Strategy

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
