"""Fixtures of the resolver's real-NATS tests: the app in process, a raw NATS connection,
and a protocol-level stand-in for sync's intake (the real sync runs in
``tests/integration/test_conflicts.py``)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import nats
import pytest
from fastapi.testclient import TestClient
from nats.js.api import AckPolicy, ConsumerConfig

from syncmesh_kit.auth import issue_token
from syncmesh_kit.settings import DEV_JWT_SECRET
from syncmesh_kit.testing import running_app
from syncmesh_resolver.app import create_app
from syncmesh_resolver.settings import ResolverSettings
from syncmesh_schema import subjects
from syncmesh_schema.mutations import MutationResult
from syncmesh_schema.sync import MutationIntake, MutationOutcome

ADMIN_TOKEN = issue_token(DEV_JWT_SECRET, "ops", 3600, admin=True)


@pytest.fixture(scope="module")
def resolver_app(nats_module) -> Iterator[TestClient]:
    settings = ResolverSettings(nats={"url": nats_module.url}, settle_timeout_s=1.5)
    with running_app(create_app(settings)) as client:
        client.headers["Authorization"] = f"Bearer {ADMIN_TOKEN}"
        yield client


@pytest.fixture
async def nc(resolver_app, nats_module) -> AsyncIterator[Any]:
    conn = await nats.connect(nats_module.url)
    yield conn
    await conn.close()


class IntakeStandIn:
    """Answers the resolver's intake messages for one collection the way sync does: the
    first ``(client_id, mutation_id)`` is ``applied`` as the next version, repeats are
    ``duplicate`` with the original version. Records every intake it saw."""

    def __init__(self, nc: Any, collection: str) -> None:
        self.nc = nc
        self.js = nc.jetstream()
        self.collection = collection
        self.seen: list[MutationIntake] = []
        self.applied: dict[tuple[str, int], int] = {}
        self.version = 100
        self._task: asyncio.Task[None] | None = None
        self._sub: Any = None

    async def start(self) -> IntakeStandIn:
        # SM_MUTATIONS is a work queue: a consumer of our own collection only.
        self._sub = await self.js.pull_subscribe(
            subjects.mutation_intake(self.collection, "x").rsplit(".", 1)[0] + ".*",
            durable=f"standin-{uuid.uuid4().hex[:8]}",
            stream=subjects.MUTATIONS_STREAM,
            config=ConsumerConfig(ack_policy=AckPolicy.EXPLICIT),
        )
        self._task = asyncio.create_task(self._run())
        return self

    async def _run(self) -> None:
        while True:
            try:
                msgs = await self._sub.fetch(10, timeout=0.5)
            except TimeoutError:
                continue
            for msg in msgs:
                intake = MutationIntake.model_validate_json(msg.data)
                self.seen.append(intake)
                m = intake.mutation
                key = (m.client_id, m.mutation_id)
                if key in self.applied:
                    result = MutationResult(
                        mutation_id=m.mutation_id,
                        status="duplicate",
                        outcome="applied",
                        version=self.applied[key],
                    )
                else:
                    self.version += 1
                    self.applied[key] = self.version
                    result = MutationResult(
                        mutation_id=m.mutation_id, status="applied", version=self.version
                    )
                outcome = MutationOutcome(
                    client_id=m.client_id, mutation_id=m.mutation_id, result=result
                )
                assert intake.reply_to
                await self.nc.publish(intake.reply_to, outcome.to_json_bytes())
                await msg.ack()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._sub is not None:
            await self._sub.unsubscribe()


@pytest.fixture
async def stand_in(nc) -> AsyncIterator[Any]:
    """``await stand_in(collection)`` starts an :class:`IntakeStandIn` (stopped after the test)."""
    started: list[IntakeStandIn] = []

    async def start(collection: str) -> IntakeStandIn:
        s = await IntakeStandIn(nc, collection).start()
        started.append(s)
        return s

    yield start
    for s in started:
        await s.stop()
