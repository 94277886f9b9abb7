"""Settling a parked conflict, without NATS: who may, and what the new mutation looks like."""

from __future__ import annotations

import pytest

from syncmesh_resolver.errors import ConflictNotFoundError, NotConflictOwnerError
from syncmesh_resolver.settling import (
    check_settle,
    chosen_document,
    settle_intake,
    settled,
    settled_record,
    settler_client_id,
    theirs_result,
)
from syncmesh_schema.conflict import ManualConflict
from syncmesh_schema.mutations import MutationResult

CONFLICT = ManualConflict(
    conflict_id="abc123",
    collection="notes",
    doc_id="n1",
    user_id="alice",
    client_id="alice-phone",
    mutation_id=4,
    base={"t": "a"},
    mine={"t": "mine"},
    theirs={"t": "theirs"},
    theirs_version=9,
    created_at=1,
)


def test_only_the_conflicts_user_settles_an_open_conflict():
    assert check_settle(CONFLICT, "mine", user_id="alice", write=None) is CONFLICT
    assert check_settle(CONFLICT, "mine", user_id=None, write=None) is CONFLICT  # admin
    with pytest.raises(NotConflictOwnerError):
        check_settle(CONFLICT, "theirs", user_id="mallory", write=None)
    with pytest.raises(ConflictNotFoundError):
        check_settle(None, "mine", user_id="alice", write=None)
    with pytest.raises(ConflictNotFoundError):
        check_settle(settled(CONFLICT, "theirs", 5), "mine", user_id="alice", write=None)


def test_writing_needs_the_write_claim_keeping_theirs_does_not():
    with pytest.raises(NotConflictOwnerError, match="may not write"):
        check_settle(CONFLICT, "custom", user_id="alice", write=["todos"])
    assert check_settle(CONFLICT, "mine", user_id="alice", write=["no*"]) is CONFLICT
    assert check_settle(CONFLICT, "theirs", user_id="alice", write=[]) is CONFLICT


def test_the_new_mutation_is_deterministic_per_conflict():
    intake = settle_intake(CONFLICT, {"t": "mine"}, reply_to="sm.results.r1", now_ms=7)
    m = intake.mutation
    assert (m.client_id, m.mutation_id) == (settler_client_id("abc123"), 1) == ("cr-abc123", 1)
    assert (m.kind, m.payload, m.strategy, m.base_version) == (
        "set",
        {"t": "mine"},
        "client_wins",
        9,
    )
    assert (intake.user_id, intake.reply_to) == ("alice", "sm.results.r1")
    delete = settle_intake(CONFLICT, None, reply_to="sm.results.r1", now_ms=7).mutation
    assert (delete.kind, delete.payload) == ("delete", {})


def test_chosen_documents():
    assert chosen_document(CONFLICT, "mine", None) == {"t": "mine"}
    assert chosen_document(CONFLICT, "custom", {"t": "both"}) == {"t": "both"}
    deleted = CONFLICT.model_copy(update={"mine": None})
    assert chosen_document(deleted, "mine", None) is None


def test_theirs_writes_nothing_and_says_so():
    result = theirs_result(CONFLICT)
    assert (result.status, result.version, result.data) == ("rejected", 9, {"t": "theirs"})
    assert result.conflict is not None
    assert (result.conflict.strategy, result.conflict.conflict_id) == ("server_wins", "abc123")


def test_the_settled_record():
    applied = MutationResult(mutation_id=1, status="applied", version=10)
    intake = settle_intake(CONFLICT, {"t": "mine"}, reply_to="sm.results.r1", now_ms=7)
    record = settled_record(
        CONFLICT, "mine", applied, issued=intake.mutation, decided_by="alice", now_ms=8
    )
    assert (record.outcome, record.choice, record.version, record.kind) == (
        "settled",
        "mine",
        10,
        "set",
    )
    assert (record.client_id, record.mutation_id, record.decided_by) == ("alice-phone", 4, "alice")
