"""The five services as real processes: readiness follows NATS down and back up, without a
service restart (foundation issue, "Done when")."""

from __future__ import annotations

import time

import httpx
import pytest

from syncmesh_cli.stack import SERVICES, Stack
from syncmesh_kit.processes import free_port

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def statuses(stack: Stack) -> dict[str, int]:
    out = {}
    for spec in SERVICES:
        try:
            out[spec.name] = httpx.get(f"{stack.url(spec.name)}/readyz", timeout=1).status_code
        except httpx.HTTPError:
            out[spec.name] = 0
    return out


def wait_all(stack: Stack, code: int, timeout: float) -> float:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if set(statuses(stack).values()) == {code}:
            return time.monotonic() - t0
        time.sleep(0.05)
    pytest.fail(f"not all {code} after {timeout}s: {statuses(stack)}")


def test_readiness_follows_nats_without_restarting_services(tmp_path):
    stack = Stack(
        tmp_path,
        nats_port=free_port(),
        monitor_port=free_port(),
        ports={spec.name: free_port() for spec in SERVICES},
    )
    try:
        took = stack.start(timeout=30)
        assert took < 30
        pids = [proc.pid for _, proc in stack.services]
        assert stack.nats is not None
        stack.nats.kill()
        assert wait_all(stack, 503, timeout=5) < 5
        stack.nats.start()
        wait_all(stack, 200, timeout=20)
        assert [proc.pid for _, proc in stack.services] == pids
        assert not stack.failed()
    finally:
        stack.stop()
    assert all(not proc.alive() for _, proc in stack.services)
