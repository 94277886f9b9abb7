"""One mutation from intake to outcome: exactly-once checks, plan, resolve, commit, record.

Exactly-once rests on three facts (notes/sync-and-conflicts.md §2):

1. The client record (``last_mutation_id``) is updated with compare-and-set, so one client's
   mutations are recorded one at a time, in order, whatever the number of sync processes.
2. Every document version names the ``(client_id, mutation_id)`` that made it. A retry
   carries the same ``base_version`` as its first attempt, so if that attempt committed,
   the document moved past the base and the pair is found in the versions since — the retry
   then completes the record instead of applying again (the ShareDB scan). This covers a
   crash between the document commit and the client record.
3. Every outcome is stored (client record for the newest, ``result.<client>.<id>`` keys with
   a long TTL for all), so a duplicate days later gets the original outcome.

Measured on this machine, a JetStream atomic batch commit costs ~3-4 ms (about 300 batches/s
whatever the concurrency) against ~0.3 ms for a single KV compare-and-set, so the document
commit and the client record are two writes made safe by (2) rather than one batch.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

import nats.errors
from nats.aio.client import Client

from syncmesh_merge import HLC
from syncmesh_schema import subjects as s
from syncmesh_schema.conflict import ResolveError, ResolveReply, ResolveRequest
from syncmesh_schema.mutations import ConflictInfo, Mutation, MutationResult
from syncmesh_schema.sync import ClientRecord, DocumentRecord, MutationIntake, MutationOutcome

from . import engine
from .engine import Commit, DocState, NeedsResolver, Reject
from .stats import Stats
from .store import CasConflict, Store
from .turns import ClientTurns

log = logging.getLogger(__name__)


class Retry(Exception):
    """Not now: put the message back and try again after ``delay_s``."""

    def __init__(self, reason: str, delay_s: float) -> None:
        super().__init__(reason)
        self.delay_s = delay_s


class Ahead(Retry):
    """``mutation_id`` is beyond ``last + 1``: an earlier one may still be in flight."""

    def __init__(self, expected: int) -> None:
        super().__init__(f"waiting for mutation {expected}", 0.05)
        self.expected = expected


@dataclass(frozen=True)
class ClientTurn:
    """It is this mutation's turn: the client record (``None`` = new client) and revision."""

    client: ClientRecord | None
    revision: int


@dataclass(frozen=True)
class PipelineConfig:
    cas_retries: int = 25
    results_kept: int = 16
    resolver_timeout_s: float = 5.0


def now_ms() -> int:
    return int(time.time() * 1000)


class Pipeline:
    """Processes one :class:`MutationIntake` into a :class:`MutationOutcome`."""

    def __init__(self, store: Store, nc: Client, stats: Stats, config: PipelineConfig) -> None:
        self.store = store
        self.nc = nc
        self.stats = stats
        self.config = config
        self.turns = ClientTurns()

    async def process(self, intake: MutationIntake) -> MutationOutcome:
        """Both steps; callers that hold per-key locks call them separately."""
        turn = await self.check_turn(intake)
        if isinstance(turn, MutationOutcome):
            return turn
        return await self.apply(intake, turn)

    async def check_turn(self, intake: MutationIntake) -> MutationOutcome | ClientTurn:
        """Client-level checks: foreign client, duplicate, or ahead of its turn (raises
        :class:`Ahead`). Returns the client record to update when it is this mutation's turn."""
        m = intake.mutation
        client, revision = await self.store.client(m.client_id)
        if client is not None and client.user_id != intake.user_id:
            return self._error(intake, "forbidden", "client_id belongs to another user")
        last = client.last_mutation_id if client else 0
        if m.mutation_id <= last:
            return self._outcome(intake, await self._duplicate(m, client))
        if m.mutation_id > last + 1:
            # The cache may be behind another sync process: look again before waiting.
            client, revision = await self.store.client(m.client_id, fresh=True)
            last = client.last_mutation_id if client else 0
            if m.mutation_id <= last:
                return self._outcome(intake, await self._duplicate(m, client))
            if m.mutation_id > last + 1:
                raise Ahead(last + 1)
        return ClientTurn(client, revision)

    async def apply(self, intake: MutationIntake, turn: ClientTurn) -> MutationOutcome:
        """Document-level work: plan, resolve, commit, then record the outcome."""
        result = await self._apply(intake)
        result = await self._record(intake, turn.client, turn.revision, result)
        return self._outcome(intake, result)

    # --- steps -------------------------------------------------------------------------

    async def _duplicate(self, m: Mutation, client: ClientRecord | None) -> MutationResult:
        self.stats.add("duplicates")
        stored = (
            client.results.get(str(m.mutation_id)) if client else None
        ) or await self.store.result(m.client_id, m.mutation_id)
        return (
            stored.as_duplicate() if stored is not None else MutationResult.forgotten(m.mutation_id)
        )

    async def _apply(self, intake: MutationIntake) -> MutationResult:
        m = intake.mutation
        if not intake.may_write:
            self.stats.add("rejected")
            return self._result(
                m, "rejected", 0, reason=f"forbidden: your token may not write {m.collection!r}"
            )
        for attempt in range(self.config.cas_retries):
            doc = await self.store.doc(m.collection, m.doc_id, fresh=attempt > 0)
            history: list[DocumentRecord] | None = None
            stale = m.base_version < doc.version
            already = doc.committed(m.client_id, m.mutation_id) if stale else False
            if already is not False and already is not None and not isinstance(already, bool):
                # A previous attempt committed before it could record the outcome.
                self.stats.add("recovered")
                return self._result(m, "applied", already)
            if already is not False:
                history = await self.store.history(m.collection, m.doc_id)
                earlier = _committed_by(history, m, after=m.base_version)
                if earlier is not None:
                    self.stats.add("recovered")
                    return self._result(m, "applied", earlier.version, conflict=earlier.conflict)
                if already is True:
                    # Committed (a later id of this client is recorded) at a version that is
                    # no longer kept; the client record's stored result answers retries.
                    raise Retry("committed earlier; waiting for its record", 0.1)
            if history is None and stale and m.kind != "crdt":
                history = await self.store.history(m.collection, m.doc_id)
            stamp = _write_stamp(intake)
            plan = engine.plan(m, doc, text_history=history, stamp=stamp)
            if isinstance(plan, Reject) and attempt == 0:
                continue  # decided on cached state: confirm against the stored document first
            if isinstance(plan, Reject):
                self.stats.add("rejected")
                return self._result(
                    m,
                    "rejected",
                    doc.version,
                    data=doc.data if doc.exists else None,
                    reason=plan.reason,
                    conflict=plan.conflict,
                )
            if isinstance(plan, NeedsResolver):
                self.stats.add("conflicts")
                resolved = await self._resolve(intake, doc, plan, history or [], stamp)
                if isinstance(resolved, MutationResult):
                    return resolved
                plan = resolved
            record = engine.record_for(
                m, doc, plan, user_id=intake.user_id, now_ms=now_ms(), stamp=stamp
            )
            try:
                committed = await self.store.commit_doc(record, doc.revision)
            except CasConflict:
                self.stats.add("cas_retries")
                continue
            self.stats.add("applied")
            self.stats.observe_commit(now_ms() - intake.received_at)
            return self._result(
                m,
                "applied",
                committed.version,
                conflict=plan.conflict,
                data=committed.data if plan.conflict is not None else None,
            )
        raise Retry(
            f"document {m.collection}/{m.doc_id} is too hot: gave up after "
            f"{self.config.cas_retries} compare-and-set attempts",
            0.2,
        )

    async def _resolve(
        self,
        intake: MutationIntake,
        doc: DocState,
        plan: NeedsResolver,
        history: list[DocumentRecord],
        stamp: str,
    ) -> Commit | MutationResult:
        m = intake.mutation
        base_record = next((r for r in history if r.version == m.base_version), None)
        base = base_record.data if base_record is not None and not base_record.deleted else None
        mine = None if plan.mine_deleted else engine.intended(m.kind, m.payload, base)
        policy = self.store.policy(m.collection)
        request = ResolveRequest(
            mutation=m,
            user_id=intake.user_id,
            base=base,
            mine=mine,
            theirs=doc.data if doc.exists else None,
            base_version=m.base_version,
            theirs_version=doc.version,
            policy=policy,
            mine_stamp=f"{stamp}:{m.client_id}",
            theirs_stamp=(doc.stamp or HLC(0).encode()) + ":" + _writer(history, doc.version),
        )
        try:
            msg = await self.nc.request(
                s.RESOLVE, request.to_json_bytes(), timeout=self.config.resolver_timeout_s
            )
        except (nats.errors.NoRespondersError, nats.errors.TimeoutError, TimeoutError):
            self.stats.add("resolver_waits")
            raise Retry(
                "the conflict-resolver did not answer; the mutation waits for it", 1.0
            ) from None
        if b'"outcome":"error"' in msg.data:
            error = ResolveError.model_validate_json(msg.data)
            self.stats.add("rejected")
            return self._result(
                m,
                "rejected",
                doc.version,
                data=doc.data if doc.exists else None,
                reason=f"the conflict could not be resolved: {error.error_message}",
            )
        reply = ResolveReply.model_validate_json(msg.data)
        if reply.outcome == "rejected":
            self.stats.add("rejected")
            return self._result(
                m,
                "rejected",
                doc.version,
                data=doc.data if doc.exists else None,
                conflict=ConflictInfo(strategy=reply.strategy, fields=reply.fields),
                reason="lost the conflict",
            )
        if reply.outcome == "manual":
            self.stats.add("manual")
            return self._result(
                m,
                "manual",
                doc.version,
                conflict=ConflictInfo(
                    conflict_id=reply.conflict_id,
                    base=base,
                    mine=mine,
                    theirs=doc.data if doc.exists else None,
                ),
            )
        return Commit(
            data=None if reply.deleted else reply.data,
            deleted=reply.deleted,
            crdt=engine.keep_crdt(reply.data, doc.crdt, doc.data),
            conflict=ConflictInfo(strategy=reply.strategy, fields=reply.fields),
        )

    async def _record(
        self,
        intake: MutationIntake,
        client: ClientRecord | None,
        revision: int,
        result: MutationResult,
    ) -> MutationResult:
        """Store the outcome and move ``last_mutation_id`` (compare-and-set)."""
        m = intake.mutation
        results = dict(client.results) if client else {}
        results[str(m.mutation_id)] = result
        for key in sorted(results, key=int)[: -self.config.results_kept]:
            del results[key]
        record = ClientRecord(
            client_id=m.client_id,
            user_id=intake.user_id,
            last_mutation_id=m.mutation_id,
            results=results,
            updated_at=now_ms(),
        )
        try:
            # Both writes at once: the result key only serves retries older than the outcomes
            # kept in the client record, and writing it twice is harmless.
            await asyncio.gather(
                self.store.save_client(record, revision), self.store.put_result(m.client_id, result)
            )
            self.turns.advanced(m.client_id, m.mutation_id)
            await self.nc.publish(s.sync_advanced(m.client_id), str(m.mutation_id).encode())
        except CasConflict:
            fresh, _ = await self.store.client(m.client_id, fresh=True)
            if fresh is not None and fresh.last_mutation_id >= m.mutation_id:
                # Another attempt of this very mutation recorded first (a resend raced this
                # one): it answered ``applied``; this answer is the duplicate.
                return await self._duplicate(m, fresh)
            raise Retry("client record changed underneath; retrying", 0.01) from None
        return result

    # --- helpers -----------------------------------------------------------------------

    @staticmethod
    def _result(m: Mutation, status: str, version: int, **extra: object) -> MutationResult:
        return MutationResult.model_validate(
            {"mutation_id": m.mutation_id, "status": status, "version": version, **extra}
        )

    @staticmethod
    def _outcome(intake: MutationIntake, result: MutationResult) -> MutationOutcome:
        return MutationOutcome(
            session_id=intake.session_id,
            request_id=intake.request_id,
            client_id=intake.mutation.client_id,
            mutation_id=intake.mutation.mutation_id,
            result=result,
        )

    @staticmethod
    def _error(
        intake: MutationIntake, code: str, message: str, expected: int | None = None
    ) -> MutationOutcome:
        return MutationOutcome.model_validate(
            {
                "session_id": intake.session_id,
                "request_id": intake.request_id,
                "client_id": intake.mutation.client_id,
                "mutation_id": intake.mutation.mutation_id,
                "error_code": code,
                "error_message": message,
                "expected": expected,
            }
        )

    error = _error


def _committed_by(
    history: list[DocumentRecord], m: Mutation, *, after: int
) -> DocumentRecord | None:
    for record in history:
        if (
            record.version > after
            and record.mutation.client_id == m.client_id
            and record.mutation.mutation_id == m.mutation_id
        ):
            return record
    return None


def _write_stamp(intake: MutationIntake) -> str:
    """When the write happened: the gateway's acceptance time. Last/first-writer-wins and LWW
    registers compare these (ties broken by client id), so the stored stamp of a document and
    the stamp of a mutation are of one kind — never a commit time against an arrival time."""
    return HLC(max(0, intake.received_at)).encode()


def _writer(history: list[DocumentRecord], version: int) -> str:
    return next((r.mutation.client_id for r in history if r.version == version), "")
