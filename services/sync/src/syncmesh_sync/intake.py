"""The intake consumer: a durable pull consumer on ``SM_MUTATIONS`` shared by every sync
process, with explicit acks, delayed naks for transient failures, a bounded number of
deliveries and a dead-letter subject for poison messages.

Written with nats-py rather than a FastStream subscriber: FastStream's default ack policy
terminates a message on any exception, and its pull batches are unreliable
(notes/nats-jetstream.md §13). Messages of one client, and of one document, are processed
one at a time and in order (keyed locks); everything else runs concurrently.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from dataclasses import dataclass
from typing import Any

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import BadRequestError
from pydantic import ValidationError

from syncmesh_schema import subjects as s
from syncmesh_schema.sync import MutationIntake, MutationOutcome

from .pipeline import Ahead, ClientTurn, Pipeline, Retry
from .stats import Stats

log = logging.getLogger(__name__)

PULL_EXPIRES_S = 2.0


@dataclass(frozen=True)
class IntakeConfig:
    max_in_flight: int = 512
    fetch_batch: int = 256
    max_deliver: int = 200
    ahead_deliveries: int = 20
    """Deliveries after which a mutation still ahead of ``last + 1`` is refused
    (``out_of_order``)."""
    ahead_wait_s: float = 5.0
    """How long one delivery waits in-process for the client's previous mutation."""
    ack_wait_s: float = 30.0


class KeyedLocks:
    """One FIFO lock per key, dropped when nobody holds or waits for it."""

    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, list[int]]] = {}

    def hold(self, key: str) -> _Held:
        entry = self._locks.get(key)
        if entry is None:
            entry = self._locks[key] = (asyncio.Lock(), [0])
        return _Held(self, key, entry)

    def __len__(self) -> int:
        return len(self._locks)


class _Held:
    """``async with locks.hold(key)`` (a class, not a generator: this runs per message)."""

    __slots__ = ("_entry", "_key", "_locks")

    def __init__(self, locks: KeyedLocks, key: str, entry: tuple[asyncio.Lock, list[int]]) -> None:
        self._locks = locks
        self._key = key
        self._entry = entry
        entry[1][0] += 1

    async def __aenter__(self) -> None:
        try:
            await self._entry[0].acquire()
        except BaseException:
            self._release_user()
            raise

    async def __aexit__(self, *exc: object) -> None:
        self._entry[0].release()
        self._release_user()

    def _release_user(self) -> None:
        users = self._entry[1]
        users[0] -= 1
        if not users[0]:
            self._locks._locks.pop(self._key, None)


class Intake:
    """Fetch, dispatch, settle (see the module docstring)."""

    def __init__(
        self,
        nc: Client,
        js: JetStreamContext,
        pipeline: Pipeline,
        stats: Stats,
        config: IntakeConfig,
    ) -> None:
        self.nc = nc
        self.js = js
        self.pipeline = pipeline
        self.stats = stats
        self.config = config
        self._clients = KeyedLocks()
        self._docs = KeyedLocks()
        self._tasks: set[asyncio.Task[None]] = set()
        self._room = asyncio.Event()
        self._loop_task: asyncio.Task[None] | None = None
        self._advances: Any = None
        self._pull: Any = None
        self._inbox = ""
        self._requested = 0
        self._last_request = 0.0

    def consumer_config(self) -> ConsumerConfig:
        return ConsumerConfig(
            durable_name=s.SYNC_INTAKE_DURABLE,
            ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.ALL,
            ack_wait=self.config.ack_wait_s,
            max_deliver=self.config.max_deliver,
            max_ack_pending=self.config.max_in_flight * 4,
            filter_subject=s.MUTATIONS_ALL,
        )

    async def start(self) -> None:
        self._advances = await self.nc.subscribe(s.SYNC_ADVANCED_ALL, cb=self._on_advanced)
        try:
            await self.js.add_consumer(s.MUTATIONS_STREAM, self.consumer_config())
        except BadRequestError as exc:
            log.warning(
                "intake consumer exists with other settings (%s); using it as is", exc.description
            )
        self._inbox = self.nc.new_inbox()
        self._pull = await self.nc.subscribe(self._inbox, cb=self._on_delivery)
        self._loop_task = asyncio.create_task(self._pull_loop(), name="sync-intake")

    async def _on_advanced(self, msg: Msg) -> None:
        try:
            last = int(msg.data)
        except ValueError:
            return
        self.pipeline.turns.advanced(msg.subject.rsplit(".", 1)[-1], last)

    async def stop(self) -> None:
        """Stop fetching and let the mutations in hand finish (they are acked or naked)."""
        if self._advances is not None:
            await self._advances.unsubscribe()
        if self._loop_task:
            self._loop_task.cancel()
            await asyncio.gather(self._loop_task, return_exceptions=True)
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=10)
        if self._pull is not None:
            # Unsubscribe now: a pending pull would otherwise hold up the connection's drain.
            await self._pull.unsubscribe()

    async def backlog(self) -> int:
        info = await self.js.consumer_info(s.MUTATIONS_STREAM, s.SYNC_INTAKE_DURABLE)
        return int(info.num_pending or 0) + int(info.num_ack_pending or 0)

    async def _pull_loop(self) -> None:
        """Keep pull requests outstanding for the free slots; each message is handled the
        moment it arrives. (nats-py's ``fetch()`` holds a partial batch until its timeout —
        up to a second of added latency at low rates.)"""
        subject = f"$JS.API.CONSUMER.MSG.NEXT.{s.MUTATIONS_STREAM}.{s.SYNC_INTAKE_DURABLE}"
        loop = asyncio.get_running_loop()
        threshold = max(1, min(self.config.fetch_batch, self.config.max_in_flight // 4))
        while True:
            if loop.time() - self._last_request > PULL_EXPIRES_S + 1.0:
                self._requested = 0  # every request has expired (statuses die with a reconnect)
            free = self.config.max_in_flight - len(self._tasks) - self._requested
            if free >= threshold:
                batch = min(free, self.config.fetch_batch)
                request = {"batch": batch, "expires": int(PULL_EXPIRES_S * 1e9)}
                try:
                    await self.nc.publish(subject, json.dumps(request).encode(), reply=self._inbox)
                except Exception as exc:  # NATS reconnecting: keep trying, never die
                    log.warning("intake pull request failed: %r", exc)
                    await asyncio.sleep(0.5)
                    continue
                self._requested += batch
                self._last_request = loop.time()
                continue
            self._room.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._room.wait(), PULL_EXPIRES_S)

    async def _on_delivery(self, msg: Msg) -> None:
        status = msg.headers.get("Status") if msg.headers else None
        if status is not None and not msg.data:
            # 408 request expired / 409 limits: what that request did not deliver is freed.
            with contextlib.suppress(ValueError, TypeError):
                pending = int((msg.headers or {}).get("Nats-Pending-Messages", 0))
                self._requested = max(0, self._requested - pending)
            self._room.set()
            return
        self._requested = max(0, self._requested - 1)
        task = asyncio.create_task(self._handle(msg))
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._room.set()

    async def _handle(self, msg: Msg) -> None:
        try:
            intake = MutationIntake.model_validate_json(msg.data)
        except ValidationError as exc:
            await self._deadletter(msg, f"not a MutationIntake: {exc.errors()[0]['msg']}")
            return
        m = intake.mutation
        deliveries = msg.metadata.num_delivered or 1
        log.debug("handling %s delivery %d", msg.subject, deliveries)
        async with self._clients.hold(m.client_id):
            try:
                turn = await self._wait_turn(intake)
                if isinstance(turn, MutationOutcome):
                    outcome = turn
                else:
                    # The document lock is taken only once it is this mutation's turn, so a
                    # mutation waiting for its client never blocks other clients' work.
                    async with self._docs.hold(f"{m.collection}/{m.doc_id}"):
                        outcome = await self.pipeline.apply(intake, turn)
            except Ahead as exc:
                if deliveries < self.config.ahead_deliveries:
                    self.pipeline.store.forget_client(m.client_id)
                    await msg.nak(delay=min(exc.delay_s * deliveries, 1.0))
                    return
                outcome = self.pipeline.error(
                    intake,
                    "out_of_order",
                    f"mutation_id {m.mutation_id} is ahead; send {exc.expected} first",
                    exc.expected,
                )
            except Retry as exc:
                self.stats.add("retries")
                await msg.nak(delay=min(exc.delay_s * (2 ** min(deliveries - 1, 5)), 30.0))
                return
            except Exception as exc:
                log.exception("mutation %s failed (delivery %d)", m.key, deliveries)
                if deliveries >= self.config.max_deliver - 1:
                    await self._deadletter(msg, f"failed {deliveries} times: {exc!r}")
                else:
                    await msg.nak(delay=min(0.1 * 2**deliveries, 30.0))
                return
        if intake.reply_to:
            await self.nc.publish(intake.reply_to, outcome.to_json_bytes())
        await msg.ack()

    async def _wait_turn(self, intake: MutationIntake) -> MutationOutcome | ClientTurn:
        """While the client's previous mutation is still being worked on elsewhere, wait for
        its announcement (bounded by ``ahead_wait_s``) instead of putting this one back."""
        m = intake.mutation
        deadline = asyncio.get_running_loop().time() + self.config.ahead_wait_s
        while True:
            try:
                return await self.pipeline.check_turn(intake)
            except Ahead:
                remaining = deadline - asyncio.get_running_loop().time()
                if remaining <= 0:
                    raise
                await self.pipeline.turns.wait(m.client_id, m.mutation_id - 1, min(remaining, 0.25))

    async def _deadletter(self, msg: Msg, reason: str) -> None:
        log.error("dead-lettering %s: %s", msg.subject, reason)
        self.stats.add("deadlettered")
        await self.js.publish(
            s.deadletter("sync"),
            msg.data,
            headers={"Syncmesh-Error": reason[:1000], "Syncmesh-Subject": msg.subject},
        )
        await msg.term()
