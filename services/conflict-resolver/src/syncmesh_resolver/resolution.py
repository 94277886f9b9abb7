"""How a stale mutation is resolved — pure functions over schema models, no I/O.

:func:`decide` turns a :class:`ResolveRequest` into a :class:`Decision` with
:func:`syncmesh_merge.resolve`: the strategy is the mutation's override, else the
collection's; field rules, fallback and delete policy come from the collection's policy.

**No base.** ``base`` is ``None`` when the mutation's base version is no longer in the
document's history, or was 0. A three-way merge would then read "absent" as the common
ancestor and merge field by field — inventing a base. Instead mine and theirs are compared
as whole documents and one of them wins as a whole: ``server_wins`` → theirs,
``client_wins`` → mine, ``last_writer_wins`` / ``first_writer_wins`` → by stamp, ``manual``
→ parked, ``merge`` → its fallback, decided the same way. A ``patch`` carries its own
meaning without a base (RFC 7396 applies to any target), so without a base "mine" is the
patch applied to theirs rather than to an empty document, which would lose both the
server's other fields and the patch's removals.

The rest of this module builds what the service stores and sends for a decision: the
reply, the audit record, the parked conflict and its notification.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from typing import Literal

from syncmesh_merge import (
    ABSENT,
    FALLBACKS,
    HLC,
    ClockError,
    Fallback,
    MergeError,
    MissingStampError,
    Resolution,
    Stamp,
    Value,
    apply_merge_patch,
    copy_json,
    dotted,
    json_equal,
    resolve,
    suggest_strategy,
)
from syncmesh_schema.base import JSONObject
from syncmesh_schema.conflict import (
    ManualConflict,
    ResolutionRecord,
    ResolveReply,
    ResolveRequest,
)
from syncmesh_schema.mutations import Strategy
from syncmesh_schema.notification import Notification

from .errors import InvalidRequestError

Outcome = Literal["resolved", "rejected", "manual"]

_WHOLE_DOCUMENT_KINDS = ("create", "set", "patch", "delete")
ROOT = ""
"""The path of a conflict about the whole document (one side deleted, or no base)."""


@dataclass(frozen=True)
class Decision:
    """What to answer for one resolve request.

    ``document`` is what to commit for ``resolved`` (``None``: delete), the server's
    document for ``rejected`` and ``manual``. ``mine`` is the client's document as the
    decision saw it (what a parked conflict keeps)."""

    outcome: Outcome
    strategy: Strategy
    """The strategy that decided (under ``merge`` without a base: the fallback)."""
    requested: Strategy
    document: JSONObject | None
    mine: JSONObject | None
    fields: list[str]
    sources: dict[str, str]
    whole_document: bool = False

    @property
    def deleted(self) -> bool:
        return self.outcome == "resolved" and self.document is None


def requested_strategy(request: ResolveRequest) -> Strategy:
    """The mutation's strategy override, else the collection's."""
    return request.mutation.strategy or request.policy.strategy


def parse_stamp(text: str, what: str) -> Stamp | None:
    """``"<hlc>:<client_id>"`` → :class:`Stamp`; ``""`` → ``None`` (no stamp sent)."""
    if not text:
        return None
    hlc_text, sep, client_id = text.rpartition(":")
    try:
        if not sep:
            raise ClockError(text)
        return Stamp(HLC.decode(hlc_text), client_id)
    except ClockError:
        raise InvalidRequestError(
            f"{what} must be '<hybrid logical clock>:<client_id>', got {text!r:.80}"
        ) from None


def decide(request: ResolveRequest) -> Decision:
    """Resolve one stale mutation (see the module docstring).

    Raises:
        InvalidRequestError: a kind the resolver does not handle, a missing document, a bad
            stamp, or a policy the strategies refuse (``fallback: "merge"``, a stamp-based
            strategy without stamps).
    """
    m = request.mutation
    if m.kind not in _WHOLE_DOCUMENT_KINDS:
        raise InvalidRequestError(
            f"{m.kind!r} mutations are merged by sync itself (OT, CRDT), not by the resolver"
        )
    if (request.mine is None) != (m.kind == "delete"):
        raise InvalidRequestError(
            f"mine must be a document for a {m.kind!r} mutation"
            if request.mine is None
            else "mine must be null for a delete"
        )
    requested = requested_strategy(request)
    ours_stamp = parse_stamp(request.mine_stamp, "mine_stamp")
    theirs_stamp = parse_stamp(request.theirs_stamp, "theirs_stamp")
    policy = request.policy
    try:
        if request.base is None:
            return _whole_document(request, requested, ours_stamp, theirs_stamp)
        resolution = resolve(
            requested,
            request.base,
            request.mine,
            request.theirs,
            field_rules=policy.field_rules,
            fallback=policy.fallback,
            ours_stamp=ours_stamp,
            theirs_stamp=theirs_stamp,
            delete_policy=policy.delete_policy,
        )
    except MissingStampError as exc:  # the library's "ours" is the wire's "mine"
        raise InvalidRequestError(str(exc).replace("ours_stamp", "mine_stamp")) from None
    except MergeError as exc:
        raise InvalidRequestError(f"cannot resolve with this policy: {exc}") from None
    return _from_resolution(requested, resolution, request.mine)


def _from_resolution(requested: Strategy, res: Resolution, mine: JSONObject | None) -> Decision:
    rules = {dotted(c.path): c.decided_by for c in res.conflicts}
    sources: dict[str, str] = {}
    for path, source in res.winner.items():
        if source == "ours":
            sources[path] = "mine"
        elif source == "resolved":
            sources[path] = rules.get(path, source)  # a field rule computed the value
        else:
            sources[path] = source
    outcome: Outcome = "manual" if res.needs_manual else "rejected" if res.rejected else "resolved"
    return Decision(
        outcome=outcome,
        strategy=res.strategy,
        requested=requested,
        document=res.document,
        mine=mine,
        fields=[dotted(c.path) for c in res.conflicts],
        sources=sources,
    )


def _value(document: JSONObject | None) -> Value:
    return ABSENT if document is None else document


def _copy(document: JSONObject | None) -> JSONObject | None:
    return None if document is None else {k: copy_json(v) for k, v in document.items()}


def differing_fields(mine: JSONObject | None, theirs: JSONObject | None) -> list[str]:
    """Top-level fields that differ; :data:`ROOT` when one side is no document."""
    if mine is None or theirs is None:
        return [ROOT]
    keys = [*theirs, *(k for k in mine if k not in theirs)]
    return [k for k in keys if not json_equal(mine.get(k, ABSENT), theirs.get(k, ABSENT))]


def _whole_document(
    request: ResolveRequest,
    requested: Strategy,
    ours_stamp: Stamp | None,
    theirs_stamp: Stamp | None,
) -> Decision:
    m, theirs = request.mutation, request.theirs
    mine = request.mine
    if m.kind == "patch":
        patched = apply_merge_patch(theirs if theirs is not None else {}, m.payload)
        assert isinstance(patched, dict)  # an object patch on an object stays an object
        mine = patched
    strategy = _whole_document_strategy(requested, request.policy.fallback)
    decision = Decision(
        outcome="resolved",
        strategy=strategy,
        requested=requested,
        document=_copy(theirs),
        mine=mine,
        fields=[],
        sources={},
        whole_document=True,
    )
    if json_equal(_value(mine), _value(theirs)):
        return decision  # both sides hold the same document: nothing to decide
    fields = differing_fields(mine, theirs)
    if strategy == "manual":
        return replace(decision, outcome="manual", fields=fields)
    mine_wins = _mine_wins(strategy, ours_stamp, theirs_stamp)
    sources = dict.fromkeys(fields, "mine" if mine_wins else "theirs")
    if mine_wins:
        return replace(decision, document=_copy(mine), fields=fields, sources=sources)
    return replace(decision, outcome="rejected", fields=fields, sources=sources)


def _whole_document_strategy(requested: Strategy, fallback: Strategy) -> Fallback:
    name = fallback if requested == "merge" else requested
    for known in FALLBACKS:
        if name == known:
            return known
    raise InvalidRequestError(
        f"cannot resolve with this policy: fallback {fallback!r} is not a strategy a merge "
        f"can fall back to; use one of {FALLBACKS}"
    )


def _mine_wins(strategy: Fallback, ours: Stamp | None, theirs: Stamp | None) -> bool:
    if strategy == "client_wins":
        return True
    if strategy in ("last_writer_wins", "first_writer_wins"):
        if ours is None or theirs is None:
            raise InvalidRequestError(f"{strategy} needs mine_stamp and theirs_stamp")
        # Equal stamps (same client and clock) keep theirs, as the merge library does.
        return ours > theirs if strategy == "last_writer_wins" else ours < theirs
    return False  # server_wins


# --- what the service sends and stores ---------------------------------------------------


def conflict_id_for(client_id: str, mutation_id: int) -> str:
    """Deterministic id of the conflict a mutation parks: the same mutation asked again
    (sync retries) parks the same conflict. 128 bits of SHA-256, hex."""
    return hashlib.sha256(f"{client_id}:{mutation_id}".encode()).hexdigest()[:32]


def reply_for(decision: Decision, conflict_id: str | None = None) -> ResolveReply:
    return ResolveReply(
        outcome=decision.outcome,
        strategy=decision.strategy,
        data=decision.document if decision.outcome == "resolved" and not decision.deleted else None,
        deleted=decision.deleted,
        fields=decision.fields,
        sources=decision.sources,
        conflict_id=conflict_id,
    )


def record_for(
    request: ResolveRequest, decision: Decision, conflict_id: str | None, now_ms: int
) -> ResolutionRecord:
    m = request.mutation
    return ResolutionRecord(
        collection=m.collection,
        doc_id=m.doc_id,
        client_id=m.client_id,
        mutation_id=m.mutation_id,
        user_id=request.user_id,
        kind=m.kind,
        outcome=decision.outcome,
        strategy=decision.strategy,
        requested=decision.requested,
        base_version=request.base_version,
        theirs_version=request.theirs_version,
        fields=decision.fields,
        sources=decision.sources,
        whole_document=decision.whole_document,
        deleted=decision.deleted,
        conflict_id=conflict_id,
        decided_at=now_ms,
    )


def record_msg_id(request: ResolveRequest) -> str:
    """``Nats-Msg-Id`` of a resolution record: a retried request (same mutation, same
    server version) is recorded once; a request after the document moved on is new."""
    m = request.mutation
    return (
        f"resolution:{m.collection}:{m.doc_id}:{m.client_id}:{m.mutation_id}:"
        f"{request.theirs_version}"
    )


def parked_conflict(
    request: ResolveRequest, decision: Decision, conflict_id: str, now_ms: int
) -> ManualConflict:
    m = request.mutation
    return ManualConflict(
        conflict_id=conflict_id,
        collection=m.collection,
        doc_id=m.doc_id,
        user_id=request.user_id,
        client_id=m.client_id,
        mutation_id=m.mutation_id,
        base=request.base,
        mine=decision.mine,
        theirs=request.theirs,
        theirs_version=request.theirs_version,
        created_at=now_ms,
    )


def notification_id(conflict_id: str) -> str:
    return f"conflict-{conflict_id}"


def notification_msg_id(conflict_id: str) -> str:
    """``Nats-Msg-Id`` of the notification: sync's retries notify once."""
    return f"conflict:{conflict_id}"


def notification_for(conflict: ManualConflict, fields: list[str], now_ms: int) -> Notification:
    where = f"{conflict.collection}/{conflict.doc_id}"
    named = ", ".join(f or "(whole document)" for f in fields[:5]) or "(whole document)"
    return Notification(
        id=notification_id(conflict.conflict_id),
        user_id=conflict.user_id,
        kind="conflict",
        title=f"Conflict on {where}",
        body=(
            f"Your change (mutation {conflict.mutation_id}) conflicts with version "
            f"{conflict.theirs_version} on {named}. Keep mine, keep theirs, or send your own."
        ),
        data={
            "conflict_id": conflict.conflict_id,
            "collection": conflict.collection,
            "doc_id": conflict.doc_id,
            "client_id": conflict.client_id,
            "mutation_id": conflict.mutation_id,
            "theirs_version": conflict.theirs_version,
            "fields": fields,
        },
        link=f"conflict:{conflict.conflict_id}",
        priority="high",
        created_at=now_ms,
    )


def _document(value: object) -> JSONObject | None:
    return value if isinstance(value, dict) else None


def explain(conflict: ManualConflict) -> dict[str, object]:
    """For the admin API: the paths in conflict and the strategy that would suit it best
    (``suggest_strategy``), from the parked base / mine / theirs."""
    base, mine, theirs = (_document(v) for v in (conflict.base, conflict.mine, conflict.theirs))
    if base is None:
        fields = differing_fields(mine, theirs)
        return {"fields": fields, "whole_document": True, "suggestion": None}
    res = resolve("manual", base, mine, theirs)
    hint = suggest_strategy(base, mine, theirs)
    return {
        "fields": [dotted(c.path) for c in res.conflicts],
        "whole_document": False,
        "suggestion": {
            "strategy": hint.strategy,
            "reason": hint.reason,
            "paths": hint.paths,
            "crdt_type": hint.crdt_type,
        },
    }
