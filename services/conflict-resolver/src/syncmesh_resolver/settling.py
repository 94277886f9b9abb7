"""Settling a parked manual conflict — pure functions over schema models, no I/O.

A person picks ``mine``, ``theirs`` or ``custom`` (PROTOCOL.md §3 ``conflict_resolve``):

- ``theirs``: the document already is theirs; nothing is written. The answer is a
  ``rejected`` result for the original mutation, its conflict naming ``server_wins``.
- ``mine`` / ``custom``: a **new mutation** goes through sync's intake like any other:
  ``set`` of the chosen document (``delete`` when mine deleted it), ``strategy:
  client_wins``, ``base_version`` = the conflict's ``theirs_version`` — so if the document
  moved on since, what changed meanwhile and does not clash with the choice survives.
  Its ``client_id`` is ``cr-<conflict_id>`` with ``mutation_id`` 1: deterministic per
  conflict, so settling the same conflict again (a retry, a crash halfway, two devices at
  once) can apply it at most once — sync answers the later attempts ``duplicate``.
"""

from __future__ import annotations

from syncmesh_schema.auth import glob_match_any
from syncmesh_schema.base import JSONObject
from syncmesh_schema.conflict import Choice, ManualConflict, ResolutionRecord
from syncmesh_schema.mutations import ConflictInfo, Mutation, MutationResult
from syncmesh_schema.sync import MutationIntake

from .errors import ConflictNotFoundError, InvalidRequestError, NotConflictOwnerError

SETTLER_PREFIX = "cr-"
SETTLE_MUTATION_ID = 1


def settler_client_id(conflict_id: str) -> str:
    """The client id owned by the resolver that writes a conflict's decision."""
    return f"{SETTLER_PREFIX}{conflict_id}"


def check_settle(
    conflict: ManualConflict | None,
    choice: Choice,
    *,
    user_id: str | None,
    write: list[str] | None,
) -> ManualConflict:
    """The conflict, if this caller may settle it now.

    ``user_id`` ``None`` is an administrator (any conflict); ``write`` is the caller's
    ``write`` claim (``None``: unrestricted).

    Raises:
        ConflictNotFoundError: unknown, or already settled.
        NotConflictOwnerError: someone else's conflict, or mine/custom outside ``write``.
    """
    if conflict is None or conflict.resolved_at is not None:
        raise ConflictNotFoundError("no such open conflict (unknown, or already settled)")
    if user_id is not None and user_id != conflict.user_id:
        raise NotConflictOwnerError("only the user whose change conflicted may settle it")
    if choice != "theirs" and write is not None and not glob_match_any(write, conflict.collection):
        raise NotConflictOwnerError(f"your token may not write {conflict.collection!r}")
    return conflict


def chosen_document(
    conflict: ManualConflict, choice: Choice, data: JSONObject | None
) -> JSONObject | None:
    """The document the decision writes (``None``: delete it)."""
    if choice == "custom":
        if data is None:
            raise InvalidRequestError("choice 'custom' needs data (the whole document)")
        return data
    if choice == "mine":
        mine = conflict.mine
        if mine is not None and not isinstance(mine, dict):
            raise InvalidRequestError("the parked mine is not a document")
        return mine
    raise InvalidRequestError("choice 'theirs' writes nothing")


def settle_intake(
    conflict: ManualConflict,
    document: JSONObject | None,
    *,
    reply_to: str,
    now_ms: int,
) -> MutationIntake:
    """The intake message of the mutation that writes the decision (see the module
    docstring)."""
    mutation = Mutation(
        client_id=settler_client_id(conflict.conflict_id),
        mutation_id=SETTLE_MUTATION_ID,
        collection=conflict.collection,
        doc_id=conflict.doc_id,
        base_version=conflict.theirs_version,
        kind="delete" if document is None else "set",
        payload={} if document is None else document,
        strategy="client_wins",
    )
    return MutationIntake(
        mutation=mutation,
        user_id=conflict.user_id,
        received_at=now_ms,
        reply_to=reply_to,
        request_id=conflict.conflict_id,
    )


def theirs_result(conflict: ManualConflict) -> MutationResult:
    """The answer to ``theirs``: the original mutation lost, the document stays theirs."""
    return MutationResult(
        mutation_id=conflict.mutation_id,
        status="rejected",
        version=conflict.theirs_version,
        data=conflict.theirs,
        conflict=ConflictInfo(strategy="server_wins", conflict_id=conflict.conflict_id),
        reason="conflict settled: kept theirs, the document is unchanged",
    )


def settled(conflict: ManualConflict, choice: Choice, now_ms: int) -> ManualConflict:
    return conflict.model_copy(update={"resolved_at": now_ms, "choice": choice})


def settled_record(
    conflict: ManualConflict,
    choice: Choice,
    result: MutationResult,
    *,
    issued: Mutation | None,
    decided_by: str,
    now_ms: int,
) -> ResolutionRecord:
    """The audit record of a settled conflict."""
    applied = result.status == "applied" or result.outcome == "applied"
    return ResolutionRecord(
        collection=conflict.collection,
        doc_id=conflict.doc_id,
        client_id=conflict.client_id,
        mutation_id=conflict.mutation_id,
        user_id=conflict.user_id,
        kind=issued.kind if issued is not None else None,
        outcome="settled",
        strategy="manual",
        requested="manual",
        base_version=conflict.theirs_version,
        theirs_version=conflict.theirs_version,
        sources={"": "theirs" if choice == "theirs" else choice},
        deleted=issued is not None and issued.kind == "delete" and applied,
        conflict_id=conflict.conflict_id,
        choice=choice,
        version=result.version if applied else None,
        decided_by=decided_by,
        decided_at=now_ms,
    )
