"""The ``syncmesh`` command: tokens, and the dev stack as a user runs it (up, status, Ctrl-C,
down) with real processes."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from syncmesh_cli.main import app, parse_duration
from syncmesh_cli.stack import SERVICES
from syncmesh_kit.auth import TokenVerifier
from syncmesh_kit.processes import free_port
from syncmesh_kit.settings import DEV_JWT_SECRET

runner = CliRunner()


def test_token_carries_the_claims_asked_for(monkeypatch):
    monkeypatch.delenv("SYNCMESH_JWT_SECRET", raising=False)
    result = runner.invoke(
        app,
        [
            "token",
            "--user",
            "alice",
            "--channels",
            "room:*,doc:todos/*",
            "--write",
            "todos",
            "--ttl",
            "2h",
        ],
    )
    assert result.exit_code == 0, result.output
    claims = TokenVerifier(DEV_JWT_SECRET).verify(result.output.strip())
    assert claims.sub == "alice"
    assert claims.channels == ["room:*", "doc:todos/*"]
    assert claims.write == ["todos"]
    assert 7100 < claims.exp - time.time() <= 7200


@pytest.mark.parametrize(
    ("text", "seconds"), [("90", 90), ("90s", 90), ("15m", 900), ("2h", 7200), ("7d", 604800)]
)
def test_durations(text, seconds):
    assert parse_duration(text) == seconds


def test_bad_duration_is_a_usage_error():
    with pytest.raises(typer.BadParameter, match="90s, 15m"):
        parse_duration("soon")


def stack_env() -> dict[str, str]:
    env = dict(os.environ)
    env["SYNCMESH_NATS_PORT"] = str(free_port())
    env["SYNCMESH_NATS_MONITOR_PORT"] = str(free_port())
    for spec in SERVICES:
        env[f"SYNCMESH_{spec.env_prefix}_HTTP__PORT"] = str(free_port())
    env.pop("SYNCMESH_NATS__URL", None)
    return env


@pytest.fixture
def start_up() -> Iterator[Callable[[Path, dict[str, str]], subprocess.Popen[str]]]:
    """Launch ``syncmesh up``; whatever a test leaves running is stopped and closed."""
    procs: list[subprocess.Popen[str]] = []

    def launch(tmp_path: Path, env: dict[str, str]) -> subprocess.Popen[str]:
        proc = subprocess.Popen(
            [sys.executable, "-m", "syncmesh_cli", "up", "--data-dir", str(tmp_path / "data")],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            cwd=tmp_path,
        )
        procs.append(proc)
        return proc

    yield launch
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
        with proc:
            proc.communicate(timeout=30)


def wait_for_line(proc: subprocess.Popen[str], needle: str, timeout: float) -> str:
    assert proc.stdout is not None
    seen = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line and proc.poll() is not None:
            break
        seen.append(line)
        if needle in line:
            return "".join(seen)
    proc.kill()
    pytest.fail(f"{needle!r} not printed within {timeout}s:\n{''.join(seen)}")


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def wait_dead(pids: list[int], timeout: float) -> list[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(pid_alive(p) for p in pids):
        time.sleep(0.1)
    return [p for p in pids if pid_alive(p)]


@pytest.mark.integration
@pytest.mark.slow
def test_up_status_and_ctrl_c_leave_nothing_behind(tmp_path, start_up):
    env = stack_env()
    up = start_up(tmp_path, env)
    output = wait_for_line(up, "Ctrl-C stops everything", timeout=45)
    assert "all services ready in" in output
    assert "development JWT" in output
    pids = json.loads((tmp_path / "data" / "stack.json").read_text())["pids"]
    assert len(pids) == 6  # five services + nats-server

    status = subprocess.run(
        [sys.executable, "-m", "syncmesh_cli", "status", "--json", "--check"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert status.returncode == 0, status.stdout + status.stderr
    rows = json.loads(status.stdout)
    assert set(rows) == {spec.name for spec in SERVICES}
    assert all(r["ready"] for r in rows.values())
    assert {r["version"] for r in rows.values()} == {"0.1.0"}

    up.send_signal(signal.SIGINT)
    assert up.wait(30) == 0
    assert wait_dead(pids, 5) == []
    assert not (tmp_path / "data" / "stack.json").exists()
    # The JetStream store stays for the next run.
    assert (tmp_path / "data" / "nats" / "jetstream").is_dir()


@pytest.mark.integration
@pytest.mark.slow
def test_down_stops_a_stack_left_in_the_background(tmp_path, start_up):
    env = stack_env()
    up = start_up(tmp_path, env)
    wait_for_line(up, "Ctrl-C stops everything", timeout=45)
    pids = json.loads((tmp_path / "data" / "stack.json").read_text())["pids"]
    down = subprocess.run(
        [sys.executable, "-m", "syncmesh_cli", "down", "--data-dir", str(tmp_path / "data")],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert down.returncode == 0, down.stderr
    assert "stopped 6 processes" in down.stdout
    assert wait_dead(pids, 5) == []
    # The foreground `up` notices its children died and exits non-zero.
    assert up.wait(30) == 1


@pytest.mark.integration
def test_up_refuses_a_busy_port_and_says_which(tmp_path, start_up):
    env = stack_env()
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", int(env["SYNCMESH_NATS_PORT"])))
        busy.listen()
        with start_up(tmp_path, env) as up:
            out, _ = up.communicate(timeout=30)
    assert up.returncode == 1
    assert f"port {env['SYNCMESH_NATS_PORT']} (nats) is in use" in out
    assert "SYNCMESH_NATS_PORT" in out


@pytest.mark.integration
@pytest.mark.slow
def test_sigterm_stops_the_stack_like_ctrl_c(tmp_path, start_up):
    env = stack_env()
    up = start_up(tmp_path, env)
    wait_for_line(up, "Ctrl-C stops everything", timeout=45)
    pids = json.loads((tmp_path / "data" / "stack.json").read_text())["pids"]
    up.send_signal(signal.SIGTERM)
    up.wait(30)
    assert wait_dead(pids, 5) == []
