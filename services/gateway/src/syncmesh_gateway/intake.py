"""Mutations: checked here, published durably to the sync intake, answered when the outcome
comes back on this gateway's results subject (``sm.results.<gateway_id>``).

* ``client_id`` must be the connection's (``bad_request``) and belong to the user
  (``forbidden``); a ``mutation_id`` beyond ``last + 1`` (processed or in flight) gets
  ``out_of_order`` with ``expected`` and is not published.
* Published with ``Nats-Msg-Id = client_id:mutation_id``. A duplicate PubAck means an
  earlier attempt holds that id in JetStream's window: its outcome went to whoever sent it
  (maybe a connection that is gone) or it was refused without consuming the id. Then the
  stored outcome is answered as ``duplicate`` if the client record says it was processed,
  else the mutation is published again under a unique Msg-Id — sync's exactly-once
  (client record) makes a second copy harmless, and this request gets an answer.
* No outcome within ``mutation_timeout_s`` → ``unavailable``: the mutation stays durable and
  its retry learns the outcome.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import uuid
from dataclasses import dataclass

from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from pydantic import ValidationError

from syncmesh_schema import subjects as s
from syncmesh_schema.base import WireModel
from syncmesh_schema.client import Error, result_frame
from syncmesh_schema.mutations import Mutation, MutationResult
from syncmesh_schema.sync import MutationIntake, MutationOutcome

from .clients import ClientEntry, ClientLedger
from .errors import CommandError
from .sessions import Session, now_ms
from .settings import GatewaySettings
from .store import Store

log = logging.getLogger(__name__)

Reply = WireModel
"""A ``result`` or ``error`` frame."""


@dataclass
class Pending:
    future: asyncio.Future[Reply]
    re: str | None
    client_id: str
    mutation_id: int
    timer: asyncio.TimerHandle


class Intake:
    def __init__(
        self, store: Store, ledger: ClientLedger, settings: GatewaySettings, gateway_id: str
    ) -> None:
        self.store = store
        self.ledger = ledger
        self.settings = settings
        self.reply_to = s.results(gateway_id)
        self._pending: dict[str, Pending] = {}
        self._ids = itertools.count(1)
        self._sub: Subscription | None = None

    async def start(self) -> None:
        self._sub = await self.store.nc.subscribe(self.reply_to, cb=self._on_outcome)

    async def stop(self) -> None:
        if self._sub is not None:
            await self._sub.unsubscribe()
        for pending in list(self._pending.values()):
            self._finish(pending, self._unavailable(pending, "the gateway is shutting down"))

    @property
    def in_flight(self) -> int:
        return len(self._pending)

    # --- client ids --------------------------------------------------------------------

    async def claim(self, client_id: str, user_id: str) -> ClientEntry:
        """Hold ``client_id`` for ``user_id`` (``forbidden`` if it is someone else's)."""
        try:
            record = await self.store.client_record(client_id)
        except ValidationError:
            record = None
        return self.ledger.claim(
            client_id,
            user_id,
            owner=record.user_id if record else None,
            last=record.last_mutation_id if record else 0,
        )

    # --- submit ------------------------------------------------------------------------

    async def submit(
        self, session: Session, entry: ClientEntry, mutation: Mutation, re: str | None
    ) -> asyncio.Future[Reply]:
        """Check and publish; the future resolves to the ``result`` or ``error`` frame.

        Raises :class:`CommandError` for refusals that do not consume the id."""
        m = mutation
        if session.client_id is not None and m.client_id != session.client_id:
            raise CommandError(
                "bad_request",
                f"mutation.client_id {m.client_id!r} differs from this connection's "
                f"{session.client_id!r}",
            )
        expected = entry.next_expected()
        if m.mutation_id > expected:
            record = await self.store.client_record(m.client_id)
            if record is not None:
                entry.learn_last(record.last_mutation_id)
            expected = entry.next_expected()
            if m.mutation_id > expected:
                raise CommandError(
                    "out_of_order",
                    f"mutation_id {m.mutation_id} is ahead: send {expected} first",
                    expected=expected,
                )
        request_id = f"{next(self._ids)}"
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Reply] = loop.create_future()
        timer = loop.call_later(self.settings.mutation_timeout_s, self._timed_out, request_id)
        pending = Pending(future, re, m.client_id, m.mutation_id, timer)
        self._pending[request_id] = pending
        entry.in_flight.add(m.mutation_id)
        intake = MutationIntake(
            mutation=m,
            user_id=session.user_id,
            may_write=session.claims.may_write(m.collection),
            received_at=now_ms(),
            reply_to=self.reply_to,
            session_id=session.session_id,
            request_id=request_id,
        )
        try:
            ack = await self.store.publish_intake(intake, m.key)
            if ack.duplicate:
                await self._after_duplicate_ack(request_id, intake)
        except Exception as exc:  # NATS unreachable, timeout: nothing was accepted for sure
            self._pending.pop(request_id, None)
            pending.timer.cancel()
            self.ledger.settle(m.client_id, m.mutation_id, consumed=False)
            log.warning("intake publish of %s failed: %r", m.key, exc)
            raise CommandError("unavailable", "could not accept the mutation; retry") from exc
        return future

    async def _after_duplicate_ack(self, request_id: str, intake: MutationIntake) -> None:
        m = intake.mutation
        record = await self.store.client_record(m.client_id)
        if record is not None and record.last_mutation_id >= m.mutation_id:
            stored = record.results.get(str(m.mutation_id)) or await self.store.stored_result(
                m.client_id, m.mutation_id
            )
            self._resolve(request_id, consumed=True, result=duplicate_of(m, stored))
            return
        await self.store.publish_intake(intake, f"{m.key}:{uuid.uuid4().hex[:12]}")

    # --- outcomes ----------------------------------------------------------------------

    async def _on_outcome(self, msg: Msg) -> None:
        try:
            outcome = MutationOutcome.model_validate_json(msg.data)
        except ValidationError:
            log.warning("ignoring an unreadable outcome on %s", msg.subject)
            return
        if outcome.request_id is None:
            return
        pending = self._pending.get(outcome.request_id)
        if pending is None or (
            (pending.client_id, pending.mutation_id) != (outcome.client_id, outcome.mutation_id)
        ):
            # Late (after the timeout) or for a request of an earlier process: the ledger
            # still learns from it.
            self.ledger.settle(
                outcome.client_id, outcome.mutation_id, consumed=outcome.result is not None
            )
            return
        if outcome.result is not None:
            self._resolve(outcome.request_id, consumed=True, result=outcome.result)
        else:
            frame = Error(
                re=pending.re,
                code=outcome.error_code or "internal",
                message=outcome.error_message or "refused by sync",
                expected=outcome.expected,
            )
            self._finish(pending, frame, consumed=False, request_id=outcome.request_id)

    def _resolve(self, request_id: str, *, consumed: bool, result: MutationResult) -> None:
        pending = self._pending.get(request_id)
        if pending is not None:
            self._finish(pending, result_frame(pending.re, result), consumed, request_id)

    def _finish(
        self,
        pending: Pending,
        frame: Reply,
        consumed: bool = False,
        request_id: str | None = None,
    ) -> None:
        if request_id is not None:
            self._pending.pop(request_id, None)
        else:
            for key, value in list(self._pending.items()):
                if value is pending:
                    del self._pending[key]
        pending.timer.cancel()
        self.ledger.settle(pending.client_id, pending.mutation_id, consumed=consumed)
        if not pending.future.done():
            pending.future.set_result(frame)

    def _timed_out(self, request_id: str) -> None:
        pending = self._pending.get(request_id)
        if pending is not None:
            self._finish(
                pending,
                self._unavailable(pending, "no outcome yet; retry the same mutation to learn it"),
                request_id=request_id,
            )

    @staticmethod
    def _unavailable(pending: Pending, message: str) -> Error:
        return Error(re=pending.re, code="unavailable", message=message)


def duplicate_of(m: Mutation, stored: MutationResult | None) -> MutationResult:
    """The ``duplicate`` answer carrying the original outcome (as sync gives it)."""
    return stored.as_duplicate() if stored is not None else MutationResult.forgotten(m.mutation_id)
