"""A real ``nats-server -js`` for the dev stack and tests: free loopback ports, its own store
directory, started and stopped on demand (also SIGKILLed and restarted, for fault tests)."""

from __future__ import annotations

import tempfile
from pathlib import Path

from .processes import ManagedProcess, find_nats_server, free_port, wait_http_ok


class NatsServer:
    """One ``nats-server`` process with JetStream; ``url`` is valid across restarts."""

    def __init__(
        self,
        store_dir: Path | None = None,
        *,
        port: int | None = None,
        monitor_port: int | None = None,
        name: str = "n1",
        cluster: str | None = None,
        cluster_port: int | None = None,
        routes: list[str] | None = None,
        sync_always: bool = False,
        log_path: Path | None = None,
    ) -> None:
        self._tmp = None if store_dir else tempfile.TemporaryDirectory(prefix="syncmesh-nats-")
        self.store_dir = store_dir or Path(self._tmp.name)  # type: ignore[union-attr]
        self.store_dir.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.monitor_port = monitor_port or free_port()
        self.name = name
        self.cluster = cluster
        self.cluster_port = cluster_port
        self.routes = routes or []
        self.sync_always = sync_always
        self.log_path = log_path or self.store_dir / "nats-server.log"
        self.process: ManagedProcess | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    @property
    def monitor_url(self) -> str:
        return f"http://127.0.0.1:{self.monitor_port}"

    def config_text(self) -> str:
        store = (self.store_dir / "jetstream").as_posix()
        lines = [
            f"server_name: {self.name}",
            f"listen: 127.0.0.1:{self.port}",
            f"http: 127.0.0.1:{self.monitor_port}",
            "jetstream {",
            f'  store_dir: "{store}"',
            "  max_memory_store: 256MB",
            "  max_file_store: 8GB",
        ]
        if self.sync_always:
            lines.append("  sync_interval: always")
        lines.append("}")
        if self.cluster:
            routes = ", ".join(f'"nats-route://{r}"' for r in self.routes)
            lines += [
                "cluster {",
                f"  name: {self.cluster}",
                f"  listen: 127.0.0.1:{self.cluster_port}",
                f"  routes: [{routes}]",
                "}",
            ]
        return "\n".join(lines) + "\n"

    def start(self, wait: bool = True, timeout: float = 15.0) -> NatsServer:
        conf = self.store_dir / "nats-server.conf"
        conf.write_text(self.config_text())
        self.process = ManagedProcess(
            f"nats-server {self.name}",
            [find_nats_server(), "-c", str(conf)],
            log_path=self.log_path,
        ).start()
        if wait:
            self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout: float = 15.0) -> None:
        assert self.process
        query = "?js-server-only=true" if self.cluster else "?js-enabled-only=true"
        wait_http_ok(f"{self.monitor_url}/healthz{query}", timeout, self.process)

    def stop(self) -> None:
        if self.process:
            self.process.stop()

    def kill(self) -> None:
        """SIGKILL: an abrupt crash."""
        if self.process:
            self.process.kill()

    def restart(self, timeout: float = 15.0) -> None:
        self.stop()
        self.start(timeout=timeout)

    def alive(self) -> bool:
        return self.process is not None and self.process.alive()

    def close(self) -> None:
        self.stop()
        if self._tmp is not None:
            self._tmp.cleanup()

    def __enter__(self) -> NatsServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


class NatsCluster:
    """Three (or more) JetStream nodes on loopback, clustered by routes."""

    def __init__(self, size: int = 3, *, sync_always: bool = False) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="syncmesh-natscluster-")
        cluster_ports = [free_port() for _ in range(size)]
        routes = [f"127.0.0.1:{p}" for p in cluster_ports]
        self.nodes = [
            NatsServer(
                Path(self._tmp.name) / f"n{i + 1}",
                name=f"n{i + 1}",
                cluster="syncmesh-test",
                cluster_port=cluster_ports[i],
                routes=routes,
                sync_always=sync_always,
            )
            for i in range(size)
        ]

    @property
    def url(self) -> str:
        return ",".join(n.url for n in self.nodes)

    def start(self, timeout: float = 30.0) -> NatsCluster:
        for node in self.nodes:
            node.start(wait=False)
        for node in self.nodes:
            node.wait_ready(timeout)
        self.wait_meta_leader(timeout)
        return self

    def wait_meta_leader(self, timeout: float = 30.0) -> None:
        import time

        import httpx

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for node in self.nodes:
                if not node.alive():
                    continue
                try:
                    jsz = httpx.get(f"{node.monitor_url}/jsz", timeout=1).json()
                except (httpx.HTTPError, ValueError):
                    continue
                if (jsz.get("meta_cluster") or {}).get("leader"):
                    return
            time.sleep(0.1)
        raise TimeoutError("no JetStream meta leader elected")

    def close(self) -> None:
        for node in self.nodes:
            node.stop()
        self._tmp.cleanup()

    def __enter__(self) -> NatsCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()
