"""The local development stack: one ``nats-server`` and the five services as child processes.

State (pids, ports) goes to ``.data/stack.json`` so that ``syncmesh down`` can stop a stack
left running in the background, and ``syncmesh status`` knows where to look.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from syncmesh_kit.natsserver import NatsServer
from syncmesh_kit.processes import ManagedProcess, wait_http_ok


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    module: str
    env_prefix: str
    default_port: int

    @property
    def port(self) -> int:
        return int(os.environ.get(f"SYNCMESH_{self.env_prefix}_HTTP__PORT", self.default_port))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


SERVICES = [
    ServiceSpec("gateway", "syncmesh_gateway", "GATEWAY", 8000),
    ServiceSpec("sync", "syncmesh_sync", "SYNC", 8001),
    ServiceSpec("conflict-resolver", "syncmesh_resolver", "RESOLVER", 8002),
    ServiceSpec("presence", "syncmesh_presence", "PRESENCE", 8003),
    ServiceSpec("notification", "syncmesh_notification", "NOTIFICATION", 8004),
]


def nats_port_default() -> int:
    return int(os.environ.get("SYNCMESH_NATS_PORT", 4222))


def port_in_use(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


class Stack:
    """Start, watch and stop the dev stack (see the module docstring)."""

    def __init__(
        self,
        data_dir: Path,
        *,
        nats_port: int | None = None,
        monitor_port: int | None = None,
        ports: dict[str, int] | None = None,
    ) -> None:
        """Ports default to the environment (``SYNCMESH_NATS_PORT``,
        ``SYNCMESH_NATS_MONITOR_PORT``, ``SYNCMESH_<SVC>_HTTP__PORT``), then to 4222, 8222 and
        8000–8004."""
        self.data_dir = data_dir
        self.nats_port = nats_port or nats_port_default()
        self.monitor_port = monitor_port or int(os.environ.get("SYNCMESH_NATS_MONITOR_PORT", 8222))
        self.ports = {spec.name: spec.port for spec in SERVICES} | (ports or {})
        self.logs = data_dir / "logs"
        self.state_file = data_dir / "stack.json"
        self.nats: NatsServer | None = None
        self.services: list[tuple[ServiceSpec, ManagedProcess]] = []

    def check_ports(self) -> list[str]:
        """Problems that would stop the stack from starting, each saying what to do."""
        problems = []
        if self.state_file.exists() and any(_pid_alive(p) for p in _state_pids(self.state_file)):
            problems.append("a stack is already running here: stop it with 'make down'")
        ports = [
            ("nats", self.nats_port, "SYNCMESH_NATS_PORT"),
            ("nats monitoring", self.monitor_port, "SYNCMESH_NATS_MONITOR_PORT"),
        ] + [(s.name, self.ports[s.name], f"SYNCMESH_{s.env_prefix}_HTTP__PORT") for s in SERVICES]
        for name, port, var in ports:
            if port_in_use(port):
                problems.append(f"port {port} ({name}) is in use: free it or set {var}")
        return problems

    def start(self, timeout: float = 30.0) -> float:
        """Start everything and wait until every ``/readyz`` is green; returns seconds taken."""
        t0 = time.monotonic()
        self.logs.mkdir(parents=True, exist_ok=True)
        self.nats = NatsServer(
            self.data_dir / "nats",
            port=self.nats_port,
            monitor_port=self.monitor_port,
            log_path=self.logs / "nats-server.log",
        )
        self.nats.start(wait=False)
        env = dict(os.environ)
        env["SYNCMESH_NATS__URL"] = self.nats.url
        env.setdefault("SYNCMESH_LOG__FORMAT", "text")
        for spec in SERVICES:
            proc = ManagedProcess(
                spec.name,
                [sys.executable, "-m", spec.module],
                env=env | {f"SYNCMESH_{spec.env_prefix}_HTTP__PORT": str(self.ports[spec.name])},
                log_path=self.logs / f"{spec.name}.log",
            ).start()
            self.services.append((spec, proc))
        self._write_state()
        assert self.nats.process
        self.nats.wait_ready(timeout)
        deadline = time.monotonic() + timeout
        for spec, proc in self.services:
            url = f"{self.url(spec.name)}/readyz"
            wait_http_ok(url, max(1.0, deadline - time.monotonic()), proc)
        return time.monotonic() - t0

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}"

    def failed(self) -> list[str]:
        """Names of children that have exited."""
        dead = [spec.name for spec, proc in self.services if not proc.alive()]
        if self.nats and not self.nats.alive():
            dead.insert(0, "nats-server")
        return dead

    def stop(self) -> None:
        """Services first (they drain), then NATS; nothing is left behind."""
        for _, proc in self.services:
            proc.signal(signal.SIGTERM)
        for _, proc in self.services:
            proc.stop(timeout=15)
        if self.nats:
            self.nats.stop()
        self.state_file.unlink(missing_ok=True)

    def _write_state(self) -> None:
        pids = [p.pid for _, p in self.services]
        if self.nats and self.nats.process:
            pids.append(self.nats.process.pid)
        state = {
            "pids": [p for p in pids if p],
            "nats": self.nats.url if self.nats else None,
            "services": {s.name: self.url(s.name) for s, _ in self.services},
        }
        self.state_file.write_text(json.dumps(state, indent=2))


def _state_pids(state_file: Path) -> list[int]:
    try:
        return [int(p) for p in json.loads(state_file.read_text()).get("pids", [])]
    except (OSError, ValueError):
        return []


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stop_background(data_dir: Path, timeout: float = 20.0) -> int:
    """Stop a stack recorded in ``stack.json`` (``make down``); returns how many were running."""
    state_file = data_dir / "stack.json"
    pids = [p for p in _state_pids(state_file) if _pid_alive(p)]
    # Each child leads its own process group: signal the group.
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(_pid_alive(p) for p in pids):
        time.sleep(0.1)
    for pid in pids:
        if _pid_alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
    state_file.unlink(missing_ok=True)
    return len(pids)
