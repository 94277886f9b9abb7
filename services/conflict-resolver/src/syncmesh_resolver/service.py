"""The live parts of the resolver, started and stopped by the runtime's hooks, and the two
operations its subscribers and admin API call: resolve a stale mutation, settle a parked
conflict.

Failure handling. A resolve request that cannot be read, or whose policy the strategies
refuse, gets a :class:`ResolveError` at once (retrying would not help). A JetStream failure
while parking, notifying or recording propagates: the request gets no reply, and sync
treats that like an absent resolver — it puts the mutation back and asks again later.
Every step is idempotent (Msg-Id dedup, create-if-absent), so asking again is safe.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Literal

import nats.errors
from pydantic import ValidationError

from syncmesh_kit.runtime import ServiceRuntime
from syncmesh_schema import subjects as s
from syncmesh_schema.base import JSONObject
from syncmesh_schema.conflict import (
    Choice,
    ConflictResolveReply,
    ConflictResolveRequest,
    ManualConflict,
    ResolutionRecord,
    ResolveError,
    ResolveReply,
    ResolveRequest,
)
from syncmesh_schema.mutations import Mutation, MutationResult
from syncmesh_schema.sync import MutationIntake

from . import resolution, settling
from .errors import (
    ConflictNotFoundError,
    InvalidRequestError,
    ResolverError,
    UnavailableError,
)
from .outcomes import Outcomes
from .settings import ResolverSettings
from .stats import Stats
from .store import Store

log = logging.getLogger(__name__)

ConflictState = Literal["open", "settled", "all"]

ADMIN = "admin"
"""``decided_by`` of a conflict settled through the admin API."""


def now_ms() -> int:
    return int(time.time() * 1000)


@contextmanager
def jetstream(what: str) -> Iterator[None]:
    """NATS failures (timeouts, no responders, a reconnecting client) → ``unavailable``."""
    try:
        yield
    except (nats.errors.Error, TimeoutError) as exc:
        raise UnavailableError(
            f"{what}: NATS did not answer ({type(exc).__name__}); retrying is safe"
        ) from exc


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err.get("loc", ()))
    return f"{where}: {err['msg']}" if where else str(err["msg"])


class ResolverService:
    """Store, outcome waiter and stats of one process (see the module docstring)."""

    def __init__(self, settings: ResolverSettings, runtime: ServiceRuntime) -> None:
        self.settings = settings
        self.stats = Stats(runtime.registry)
        self.results_subject = s.results(f"resolver-{settings.instance_id}")
        self._store: Store | None = None
        self._outcomes: Outcomes | None = None
        runtime.on_start.append(self.start)
        runtime.on_stop.append(self.stop)

    async def start(self, runtime: ServiceRuntime) -> None:
        self._store = await Store.open(runtime.js, timeout_s=self.settings.nats.request_timeout_s)
        self._outcomes = Outcomes(runtime.nc, self.results_subject)
        await self._outcomes.start()

    async def stop(self, runtime: ServiceRuntime) -> None:
        if self._outcomes is not None:
            await self._outcomes.stop()

    @property
    def store(self) -> Store:
        if self._store is None:
            raise UnavailableError("not connected to NATS yet")
        return self._store

    @property
    def outcomes(self) -> Outcomes:
        if self._outcomes is None:
            raise UnavailableError("not connected to NATS yet")
        return self._outcomes

    # --- sm.resolve --------------------------------------------------------------------

    async def resolve(self, data: bytes) -> ResolveReply | ResolveError:
        """Answer one :class:`ResolveRequest` (raw bytes, validated here)."""
        try:
            request = ResolveRequest.model_validate_json(data)
        except ValidationError as exc:
            return self._resolve_error("bad_request", f"not a ResolveRequest: {_first_error(exc)}")
        try:
            decision = resolution.decide(request)
        except InvalidRequestError as exc:
            m = request.mutation
            log.warning("cannot resolve %s on %s/%s: %s", m.key, m.collection, m.doc_id, exc)
            return self._resolve_error(exc.code, str(exc))
        now = now_ms()
        conflict_id = None
        if decision.outcome == "manual":
            conflict = await self._park(request, decision, now)
            conflict_id = conflict.conflict_id
        record = resolution.record_for(request, decision, conflict_id, now)
        await self.store.record(record, resolution.record_msg_id(request))
        self.stats.resolved(decision.strategy, decision.outcome)
        return resolution.reply_for(decision, conflict_id)

    def _resolve_error(self, code: str, message: str) -> ResolveError:
        error = ResolveError.model_validate({"error_code": code, "error_message": message})
        self.stats.error("resolve", error.error_code)
        return error

    async def _park(
        self, request: ResolveRequest, decision: resolution.Decision, now: int
    ) -> ManualConflict:
        """Park the conflict once, whatever the retries; the user is told first, so a crash
        between the two steps repeats the (deduplicated) notification, never loses it."""
        m = request.mutation
        conflict_id = resolution.conflict_id_for(m.client_id, m.mutation_id)
        conflict = resolution.parked_conflict(request, decision, conflict_id, now)
        existing = await self.store.conflict(conflict_id)
        if existing is not None:
            return existing[0]
        notification = resolution.notification_for(conflict, decision.fields, now)
        await self.store.notify(notification, resolution.notification_msg_id(conflict_id))
        parked = await self.store.park(conflict)
        log.info(
            "parked conflict %s on %s/%s for %r", conflict_id, m.collection, m.doc_id, m.client_id
        )
        return parked

    # --- sm.conflict.resolve and the admin API -----------------------------------------

    async def settle_request(self, data: bytes) -> ConflictResolveReply:
        """Answer one :class:`ConflictResolveRequest` (raw bytes, validated here)."""
        try:
            request = ConflictResolveRequest.model_validate_json(data)
        except ValidationError as exc:
            self.stats.error("settle", "bad_request")
            return ConflictResolveReply(
                error_code="bad_request",
                error_message=f"not a ConflictResolveRequest: {_first_error(exc)}",
            )
        return await self.settle(
            request.conflict_id,
            request.choice,
            request.data,
            user_id=request.user_id,
            write=request.write,
        )

    async def settle(
        self,
        conflict_id: str,
        choice: Choice,
        data: JSONObject | None,
        *,
        user_id: str | None,
        write: list[str] | None = None,
    ) -> ConflictResolveReply:
        """Settle a parked conflict (``user_id`` ``None``: as an administrator); see
        :mod:`syncmesh_resolver.settling`. Errors are answered, never raised."""
        try:
            with jetstream(f"settling conflict {conflict_id!r}"):
                result, issued = await self._settle(
                    conflict_id, choice, data, user_id=user_id, write=write
                )
        except ResolverError as exc:
            self.stats.error("settle", exc.code)
            return ConflictResolveReply(
                conflict_id=conflict_id, error_code=exc.code, error_message=str(exc)
            )
        return ConflictResolveReply(
            conflict_id=conflict_id,
            result=result,
            client_id=issued.client_id if issued else None,
            mutation_id=issued.mutation_id if issued else None,
        )

    async def _load_open(self, conflict_id: str) -> tuple[ManualConflict | None, int]:
        try:
            s.conflict_key(conflict_id)
        except ValueError:
            raise ConflictNotFoundError("no such conflict") from None
        found = await self.store.conflict(conflict_id)
        return (found[0], found[1]) if found else (None, 0)

    async def _settle(
        self,
        conflict_id: str,
        choice: Choice,
        data: JSONObject | None,
        *,
        user_id: str | None,
        write: list[str] | None,
    ) -> tuple[MutationResult, Mutation | None]:
        found, revision = await self._load_open(conflict_id)
        conflict = settling.check_settle(found, choice, user_id=user_id, write=write)
        issued: Mutation | None = None
        if choice == "theirs":
            result = settling.theirs_result(conflict)
        else:
            document = settling.chosen_document(conflict, choice, data)
            intake = settling.settle_intake(
                conflict, document, reply_to=self.results_subject, now_ms=now_ms()
            )
            issued = intake.mutation
            result = await self._apply(intake)
        await self._mark_settled(conflict, revision, choice)
        self.stats.settled(choice)
        record = settling.settled_record(
            conflict,
            choice,
            result,
            issued=issued,
            decided_by=ADMIN if user_id is None else user_id,
            now_ms=now_ms(),
        )
        try:
            await self.store.record(record, f"settled:{conflict_id}")
        except (nats.errors.Error, TimeoutError) as exc:
            # The decision stands (and is in the conflict itself); only the log line is lost.
            log.error("could not record the settlement of %s: %r", conflict_id, exc)
        log.info(
            "settled conflict %s: %s → %s v%d", conflict_id, choice, result.status, result.version
        )
        return result, issued

    async def _apply(self, intake: MutationIntake) -> MutationResult:
        """Publish the decision's mutation to sync's intake and wait for sync's answer."""
        m = intake.mutation
        key = (m.client_id, m.mutation_id)
        waiter = self.outcomes.expect(key)
        try:
            if await self.store.submit(intake, m.key):
                # JetStream has this Msg-Id already (an earlier attempt): its outcome went
                # to whoever sent it. A fresh Msg-Id makes sync answer us; sync's own
                # exactly-once check answers ``duplicate`` if it was applied already.
                await self.store.submit(intake, f"{m.key}:{uuid.uuid4().hex[:12]}")
            try:
                outcome = await asyncio.wait_for(waiter, self.settings.settle_timeout_s)
            except TimeoutError:
                raise UnavailableError(
                    "sync did not answer in time; the decision stays queued — retrying is safe"
                ) from None
        finally:
            self.outcomes.forget(key, waiter)
        if outcome.result is None:
            error = ResolverError(outcome.error_message or "sync refused the mutation")
            error.code = outcome.error_code or "internal"
            raise error
        return outcome.result

    async def _mark_settled(self, conflict: ManualConflict, revision: int, choice: Choice) -> None:
        """Compare-and-set ``resolved_at`` / ``choice``; whoever settles first wins, the
        others get ``not_found``."""
        current = conflict
        while not await self.store.save_conflict(
            settling.settled(current, choice, now_ms()), revision
        ):
            found = await self.store.conflict(conflict.conflict_id)
            if found is None or found[0].resolved_at is not None:
                raise ConflictNotFoundError("the conflict was settled meanwhile")
            current, revision = found

    # --- admin queries -----------------------------------------------------------------

    async def conflict(self, conflict_id: str) -> tuple[ManualConflict, int] | None:
        """A parked conflict (open or settled) and its revision."""
        with jetstream("reading the conflict"):
            return await self.store.conflict(conflict_id)

    async def conflicts(
        self,
        *,
        collection: str | None = None,
        user_id: str | None = None,
        state: ConflictState = "open",
    ) -> list[ManualConflict]:
        """Parked conflicts, oldest first, filtered by collection, user and state."""
        with jetstream("listing conflicts"):
            every = await self.store.all_conflicts()
        out = [
            c
            for c in every
            if (collection is None or c.collection == collection)
            and (user_id is None or c.user_id == user_id)
            and (state == "all" or (state == "open") == (c.resolved_at is None))
        ]
        return sorted(out, key=lambda c: (c.created_at, c.conflict_id))

    async def history(self, collection: str | None, limit: int) -> list[ResolutionRecord]:
        """The newest resolution records (of one collection), newest first."""
        with jetstream("reading the resolution history"):
            return await self.store.history(collection, limit)

    async def stats_snapshot(self) -> dict[str, object]:
        with jetstream("counting conflicts"):
            conflicts = await self.store.all_conflicts()
            recorded = await self.store.recorded()
        open_ = sum(1 for c in conflicts if c.resolved_at is None)
        return {
            **self.stats.snapshot(),
            "open_conflicts": open_,
            "settled_conflicts": len(conflicts) - open_,
            "recorded": recorded,
        }
