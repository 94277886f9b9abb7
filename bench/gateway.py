"""Gateway benchmark (``make bench-gateway``): a real nats-server, the sync service and ONE
gateway process, driven over real WebSockets by a load generator spread over processes
(``websockets`` + uvloop), with nats-server's own WebSocket listener and a python-socketio
server as baselines in the same run.

(a) **latency**: N clients, each subscribed to its own ``doc:``; mutations at a fixed total
    rate, each sent on one connection (client i writes document i+1) and received as an
    ``event`` on another; mutate sent → event received, p50/p99/p99.9.
(b) **fan-out**: one ``room:`` channel, S subscribers; publishes at max rate (closed loop:
    the publisher stays at most ``--window`` messages ahead of the slowest generator
    process) and at a fixed rate; deliveries/s and publish → receive latency (the publish
    timestamp travels inside the message data), with and without ``hello.batch``.
(c) **idle**: C hello'd WebSocket connections without subscriptions; server RSS delta / C.

Every timestamp is ``time.time_ns()`` (one clock for every process of the box). Results go
to ``bench/results/gateway.json`` and a latency chart to ``bench/results/gateway-latency.png``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing as mp
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from array import array
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.sharedctypes import SynchronizedArray
from pathlib import Path
from typing import Any, Literal

import numpy as np
import uvloop
from websockets.asyncio.client import ClientConnection, connect

from bench.common import RESULTS, CpuMeter, machine, write_result
from syncmesh_kit.auth import issue_token
from syncmesh_kit.natsserver import NatsServer
from syncmesh_kit.processes import ManagedProcess, free_port, wait_http_ok
from syncmesh_kit.settings import DEV_JWT_SECRET

Kind = Literal["gateway", "nats", "socketio"]
MARK_S = '"bt":'
MARK_B = b'"bt":'
STARTED: list[ManagedProcess] = []
"""Every server process this run started: stopped in ``finally`` whatever happens."""
CTX = mp.get_context("spawn")


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def pct(
    values: np.ndarray[Any, Any], points: tuple[float, ...] = (50, 99, 99.9)
) -> dict[str, float]:
    if len(values) == 0:
        return {}
    got = np.percentile(values, points)
    return {f"p{p:g}": round(float(v), 3) for p, v in zip(points, got, strict=True)}


def raise_nofile() -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


# --- client protocols (in the generator processes) ------------------------------------


def stamps(msg: str | bytes, now: int, out: array[float]) -> int:
    """Latency (ms) of every ``"bt":<time_ns>`` in a message (several when batched or
    coalesced); returns how many."""
    n = 0
    if isinstance(msg, str):
        i = msg.find(MARK_S)
        while i >= 0:
            j = i + 5
            if msg[j] == " ":
                j += 1
            out.append((now - int(msg[j : j + 19])) / 1e6)
            n += 1
            i = msg.find(MARK_S, j)
    else:
        i = msg.find(MARK_B)
        while i >= 0:
            j = i + 5
            if msg[j] == 32:
                j += 1
            out.append((now - int(msg[j : j + 19])) / 1e6)
            n += 1
            i = msg.find(MARK_B, j)
    return n


async def open_conn(
    kind: Kind, url: str, n: int, *, batch: bool, token: str, local_ip: str
) -> ClientConnection:
    common: dict[str, Any] = {
        "compression": None,
        "open_timeout": 60,
        "ping_interval": None,
        "max_size": 2**24,
        "local_addr": (local_ip, 0),
    }
    if kind == "gateway":
        ws = await connect(f"{url}/v1/ws", **common)
        hello = {"type": "hello", "id": "h", "token": token, "client_id": f"bc{n}", "batch": batch}
        await ws.send(json.dumps(hello))
        reply = json.loads(await ws.recv())
        if reply.get("type") != "welcome":
            raise RuntimeError(f"hello refused: {reply}")
    elif kind == "nats":
        ws = await connect(url, **common)
        await ws.recv()  # INFO
        await ws.send(b'CONNECT {"verbose":false,"pedantic":false,"protocol":1}\r\nPING\r\n')
        while b"PONG" not in _raw(await ws.recv()):
            pass
    else:
        ws = await connect(f"{url}/socket.io/?EIO=4&transport=websocket", **common)
        await ws.recv()  # 0{sid, pingInterval, …}
        await ws.send("40")
        while not str(await ws.recv()).startswith("40"):
            pass
    return ws


def _raw(msg: str | bytes) -> bytes:
    return msg.encode() if isinstance(msg, str) else msg


async def subscribe(kind: Kind, ws: ClientConnection, channel: str) -> None:
    if kind == "gateway":
        await ws.send(json.dumps({"type": "subscribe", "id": "s", "channel": channel}))
        while True:
            reply = json.loads(await ws.recv())
            if reply.get("re") == "s":
                if reply["type"] != "subscribed":
                    raise RuntimeError(f"subscribe refused: {reply}")
                return
    elif kind == "nats":
        await ws.send(f"SUB {channel} 1\r\nPING\r\n".encode())
        while b"PONG" not in _raw(await ws.recv()):
            pass
    else:
        await ws.send(f'420["join","{channel}"]')
        while not str(await ws.recv()).startswith("430"):
            pass


def publish_frame(kind: Kind, channel: str, seq: int) -> str | bytes:
    data = f'{{"s":{seq},"bt":{time.time_ns()}}}'
    if kind == "gateway":
        return f'{{"type":"publish","id":"p{seq}","channel":"{channel}","data":{data}}}'
    if kind == "nats":
        return f"PUB {channel} {len(data)}\r\n{data}\r\n".encode()
    return f'42["pub","{channel}",{data}]'


@dataclass
class WorkerSpec:
    scenario: Literal["fanout", "idle", "latency"]
    kind: Kind
    url: str
    first: int  # index of this worker's first connection
    count: int
    channel: str = ""
    batch: bool = False
    # latency scenario
    clients: int = 0
    rate: float = 0.0
    seconds: float = 0.0
    run: str = ""
    source_ips: int = 4
    connect_concurrency: int = 64


def worker_main(
    spec: WorkerSpec,
    slot: int,
    progress: SynchronizedArray[Any],
    go: Any,
    stop: Any,
    results: Any,
) -> None:
    raise_nofile()
    uvloop.run(_worker(spec, slot, progress, go, stop, results))


async def _worker(
    spec: WorkerSpec,
    slot: int,
    progress: SynchronizedArray[Any],
    go: Any,
    stop: Any,
    results: Any,
) -> None:
    """Connect, report readiness (``progress[2*slot]`` = connections), then count
    deliveries (``progress[2*slot+1]``) until ``stop``; send the results."""
    lat: array[float] = array("d")
    state = {"received": 0, "first": 0, "last": 0, "errors": 0, "sent": 0}
    conns: dict[int, ClientConnection] = {}
    sem = asyncio.Semaphore(spec.connect_concurrency)
    token_cache: dict[int, str] = {}
    failures: Counter[str] = Counter()

    def token_of(n: int) -> str:
        if n not in token_cache:
            token_cache[n] = issue_token(DEV_JWT_SECRET, f"u{n}", 7200)
        return token_cache[n]

    async def reader(n: int, ws: ClientConnection) -> None:
        gateway_latency = spec.kind == "gateway" and spec.scenario == "latency"
        try:
            async for msg in ws:
                now = time.time_ns()
                if spec.kind == "socketio" and msg == "2":
                    await ws.send("3")
                    continue
                if gateway_latency:
                    assert isinstance(msg, str)
                    if '"type":"result"' in msg:
                        if '"status":"applied"' not in msg:
                            state["errors"] += 1
                        continue
                    if '"type":"event"' not in msg:
                        continue
                got = stamps(msg, now, lat)
                if got:
                    if not state["first"]:
                        state["first"] = now
                    state["last"] = now
                    state["received"] += got
        except Exception as exc:  # a dropped connection is a figure, not a crash
            failures[type(exc).__name__] += 1

    async def open_one(n: int) -> None:
        async with sem:
            for attempt in range(3):
                try:
                    ws = await open_conn(
                        spec.kind,
                        spec.url,
                        n,
                        batch=spec.batch,
                        token=token_of(n) if spec.kind == "gateway" else "",
                        local_ip=f"127.0.0.{1 + n % spec.source_ips}",
                    )
                    if spec.scenario == "fanout":
                        await subscribe(spec.kind, ws, spec.channel)
                    elif spec.scenario == "latency":
                        await subscribe(spec.kind, ws, f"doc:bench{spec.run}/d{n}")
                    conns[n] = ws
                    progress[2 * slot] = len(conns)
                    return
                except (OSError, RuntimeError, TimeoutError) as exc:
                    failures[f"connect:{type(exc).__name__}"] += 1
                    await asyncio.sleep(0.2 * (attempt + 1))

    await asyncio.gather(*(open_one(n) for n in range(spec.first, spec.first + spec.count)))
    readers = [asyncio.create_task(reader(n, ws)) for n, ws in conns.items()]
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, go.wait)

    writer: asyncio.Task[None] | None = None
    if spec.scenario == "latency":
        writer = asyncio.create_task(_mutations(spec, conns, state))
    while not stop.is_set():
        progress[2 * slot + 1] = state["received"]
        await asyncio.sleep(0.05)
    progress[2 * slot + 1] = state["received"]
    if writer is not None:
        writer.cancel()
    results.put(
        {
            "slot": slot,
            "connected": len(conns),
            "received": state["received"],
            "first": state["first"],
            "last": state["last"],
            "errors": state["errors"],
            "sent": state["sent"],
            "failures": dict(failures),
            "latency": lat.tobytes(),
        }
    )
    for task in readers:
        task.cancel()
    await asyncio.gather(
        *(asyncio.wait_for(ws.close(), 2) for ws in conns.values()), return_exceptions=True
    )


async def _mutations(
    spec: WorkerSpec, conns: dict[int, ClientConnection], state: dict[str, int]
) -> None:
    """This worker's share of the mutation rate: client i writes document (i+1) % clients,
    so each event is received on another connection than the one that sent it."""
    mine = sorted(conns)
    if not mine:
        return
    rate = spec.rate * len(mine) / spec.clients
    next_mid = dict.fromkeys(mine, 1)
    t0 = time.perf_counter()
    i = 0
    while time.perf_counter() - t0 < spec.seconds:
        delay = t0 + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        n = mine[i % len(mine)]
        i += 1
        mid = next_mid[n]
        next_mid[n] += 1
        payload = {"bt": time.time_ns()}
        frame = {
            "type": "mutate",
            "id": f"m{mid}",
            "mutation": {
                "client_id": f"bc{n}",
                "mutation_id": mid,
                "collection": f"bench{spec.run}",
                "doc_id": f"d{(n + 1) % spec.clients}",
                "base_version": mid - 1,
                "kind": "create" if mid == 1 else "patch",
                "payload": payload,
            },
        }
        with contextlib.suppress(Exception):
            await conns[n].send(json.dumps(frame))
            state["sent"] += 1


# --- the driver (main process) ----------------------------------------------------------


@dataclass
class Workers:
    procs: list[Any]
    progress: SynchronizedArray[Any]
    go: Any
    stop: Any
    results: Any
    sizes: list[int]

    @property
    def pids(self) -> dict[str, int]:
        return {f"gen{i}": p.pid for i, p in enumerate(self.procs)}

    def connected(self) -> int:
        return sum(self.progress[2 * i] for i in range(len(self.procs)))

    def received(self) -> int:
        return sum(self.progress[2 * i + 1] for i in range(len(self.procs)))

    def slowest_per_conn(self) -> float:
        return float(
            min(self.progress[2 * i + 1] / max(1, s) for i, s in enumerate(self.sizes) if s)
        )

    def finish(self) -> list[dict[str, Any]]:
        self.stop.set()
        out = [self.results.get(timeout=120) for _ in self.procs]
        for p in self.procs:
            p.join(30)
            if p.is_alive():
                p.kill()
        return out


def start_workers(specs: list[WorkerSpec]) -> Workers:
    progress = CTX.Array("q", 2 * len(specs), lock=False)
    go, stop, results = CTX.Event(), CTX.Event(), CTX.Queue()
    procs = []
    for slot, spec in enumerate(specs):
        p = CTX.Process(
            target=worker_main, args=(spec, slot, progress, go, stop, results), daemon=True
        )
        p.start()
        procs.append(p)
    return Workers(procs, progress, go, stop, results, [s.count for s in specs])


def split(total: int, parts: int) -> list[tuple[int, int]]:
    base, extra = divmod(total, parts)
    out, first = [], 0
    for i in range(parts):
        n = base + (1 if i < extra else 0)
        out.append((first, n))
        first += n
    return out


async def wait_connected(w: Workers, total: int, what: str, limit_s: float = 300) -> float:
    t0 = time.perf_counter()
    last = 0.0
    while w.connected() < total:
        if time.perf_counter() - t0 > limit_s or not all(p.is_alive() for p in w.procs):
            raise RuntimeError(f"{what}: only {w.connected()}/{total} connected")
        if time.perf_counter() - last > 2:
            last = time.perf_counter()
            log(f"  {what}: {w.connected()}/{total} connected")
        await asyncio.sleep(0.05)
    return time.perf_counter() - t0


@dataclass
class Target:
    kind: Kind
    url: str
    pid: int
    label: str


async def fanout(
    target: Target,
    args: argparse.Namespace,
    *,
    batch: bool,
    rate: float | None,
    extra_pids: dict[str, int],
    on_go: Callable[[], object] | None = None,
) -> dict[str, Any]:
    """One fan-out run: ``rate`` None = max rate (closed loop); ``on_go`` runs when the
    load starts (the profiler)."""
    channel = {
        "gateway": f"room:bench{uuid.uuid4().hex[:6]}",
        "nats": "bench.room",
        "socketio": "room",
    }[target.kind]
    subs = args.subscribers
    specs = [
        WorkerSpec("fanout", target.kind, target.url, first, n, channel=channel, batch=batch)
        for first, n in split(subs, args.workers)
    ]
    name = f"{target.label}{' batch' if batch else ''} @ {'max' if rate is None else f'{rate:g}/s'}"
    log(f"fan-out {name}: {subs} subscribers")
    w = start_workers(specs)
    publisher: ClientConnection | None = None
    try:
        await wait_connected(w, subs, name)
        publisher = await open_conn(
            target.kind,
            target.url,
            10**6,
            batch=False,
            token=issue_token(DEV_JWT_SECRET, "publisher", 7200),
            local_ip="127.0.0.1",
        )
        acks = {"n": 0}

        async def drain_acks() -> None:
            assert publisher is not None
            with contextlib.suppress(Exception):
                async for msg in publisher:
                    if target.kind == "socketio" and msg == "2":
                        await publisher.send("3")
                    acks["n"] += 1

        ack_task = asyncio.create_task(drain_acks())
        w.go.set()
        if on_go is not None:
            on_go()
        await asyncio.sleep(0.2)
        meter = CpuMeter({target.label: target.pid, "gen-main": os.getpid()} | extra_pids | w.pids)
        meter.start()
        seconds = args.fanout_seconds if rate is None else args.paced_seconds
        t0 = time.perf_counter()
        t0_ns = time.time_ns()
        sent = 0
        last = t0
        while time.perf_counter() - t0 < seconds:
            if rate is None:
                if sent - w.slowest_per_conn() >= args.window:
                    await asyncio.sleep(0.002)
                    continue
            else:
                delay = t0 + sent / rate - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
            await publisher.send(publish_frame(target.kind, channel, sent))
            sent += 1
            if rate is None and sent % 16 == 0:
                await asyncio.sleep(0)
            if time.perf_counter() - last > 2:
                last = time.perf_counter()
                log(f"  {name}: published {sent}, delivered {w.received()}")
        expected = sent * subs
        deadline = time.perf_counter() + args.drain_s
        while w.received() < expected and time.perf_counter() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        cpu = meter.stop()
        ack_task.cancel()
        out = w.finish()
    finally:
        if publisher is not None:
            with contextlib.suppress(Exception):
                await publisher.close()
        if not w.stop.is_set():
            with contextlib.suppress(Exception):
                w.finish()
    received = sum(r["received"] for r in out)
    last_ns = max((r["last"] for r in out), default=t0_ns)
    span = max(1e-9, (last_ns - t0_ns) / 1e9)
    lat = np.concatenate([np.frombuffer(r["latency"], dtype=np.float64) for r in out])
    failures: Counter[str] = Counter()
    for r in out:
        failures.update(r["failures"])
    result = {
        "target": target.label,
        "batch": batch,
        "rate": "max" if rate is None else rate,
        "subscribers": subs,
        "connected": sum(r["connected"] for r in out),
        "published": sent,
        "publish_rate_achieved": round(sent / span, 1),
        "deliveries": received,
        "delivery_ratio": round(received / max(1, expected), 4),
        "seconds": round(span, 2),
        "deliveries_per_s": round(received / span),
        "latency_ms": pct(lat),
        "cpu_percent": cpu,
        "generator_cpu_percent": round(sum(v for k, v in cpu.items() if k.startswith("gen")), 1),
        "client_failures": dict(failures),
    }
    shown = ("deliveries_per_s", "delivery_ratio", "latency_ms", "cpu_percent")
    log(f"  → {json.dumps({k: result[k] for k in shown})}")
    return result


async def idle(target: Target, args: argparse.Namespace) -> dict[str, Any]:
    total = args.idle
    name = f"idle {target.label}"
    log(f"{name}: {total} connections")
    before = rss_kib(target.pid)
    specs = [
        WorkerSpec("idle", target.kind, target.url, first, n)
        for first, n in split(total, args.workers)
    ]
    w = start_workers(specs)
    try:
        took = await wait_connected(w, total, name)
        await asyncio.sleep(args.idle_settle_s)
        after = rss_kib(target.pid)
        w.go.set()
        out = w.finish()
    finally:
        if not w.stop.is_set():
            with contextlib.suppress(Exception):
                w.finish()
    held = sum(r["connected"] for r in out)
    result = {
        "target": target.label,
        "connections": held,
        "connect_seconds": round(took, 2),
        "connects_per_s": round(held / max(took, 1e-9)),
        "rss_before_kib": before,
        "rss_after_kib": after,
        "rss_per_connection_kib": round((after - before) / max(1, held), 2),
    }
    log(f"  → {result}")
    await asyncio.sleep(1)
    return result


async def latency(
    target: Target,
    args: argparse.Namespace,
    extra_pids: dict[str, int],
    on_go: Callable[[], object] | None = None,
) -> dict[str, Any]:
    clients = args.clients
    run = uuid.uuid4().hex[:6]
    log(f"latency: {clients} clients, {args.rate}/s for {args.latency_seconds}s")
    specs = [
        WorkerSpec(
            "latency",
            "gateway",
            target.url,
            first,
            n,
            clients=clients,
            rate=args.rate,
            seconds=args.latency_seconds,
            run=run,
        )
        for first, n in split(clients, min(args.workers, clients))
    ]
    w = start_workers(specs)
    try:
        await wait_connected(w, clients, "latency")
        meter = CpuMeter({target.label: target.pid, "gen-main": os.getpid()} | extra_pids | w.pids)
        w.go.set()
        if on_go is not None:
            on_go()
        meter.start()
        t0 = time.perf_counter()
        last = t0
        expected = int(args.rate * args.latency_seconds)
        while time.perf_counter() - t0 < args.latency_seconds + args.drain_s:
            await asyncio.sleep(0.1)
            if w.received() >= expected and time.perf_counter() - t0 > args.latency_seconds:
                break
            if time.perf_counter() - last > 2:
                last = time.perf_counter()
                log(f"  latency: {w.received()} events received")
        cpu = meter.stop()
        out = w.finish()
    finally:
        if not w.stop.is_set():
            with contextlib.suppress(Exception):
                w.finish()
    lat = np.concatenate([np.frombuffer(r["latency"], dtype=np.float64) for r in out])
    sent = sum(r["sent"] for r in out)
    result = {
        "clients": clients,
        "rate_target": args.rate,
        "seconds": args.latency_seconds,
        "mutations_sent": sent,
        "events_received": len(lat),
        "errors": sum(r["errors"] for r in out),
        "mutate_to_event_ms": pct(lat),
        "cpu_percent": cpu,
        "generator_cpu_percent": round(sum(v for k, v in cpu.items() if k.startswith("gen")), 1),
    }
    log(f"  → {result}")
    return result


class WsNatsServer(NatsServer):
    """nats-server with its own WebSocket listener (the baseline, not our gateway)."""

    def __init__(self, store_dir: Path) -> None:
        super().__init__(store_dir, name="wsbase")
        self.ws_port = free_port()

    def config_text(self) -> str:
        return super().config_text() + (
            f"websocket {{\n  host: 127.0.0.1\n  port: {self.ws_port}\n  no_tls: true\n}}\n"
        )


def start_stack(tmp: Path, nats_url: str) -> tuple[Target, ManagedProcess]:
    base = dict(os.environ) | {
        "SYNCMESH_NATS__URL": nats_url,
        "SYNCMESH_LOG__FORMAT": "text",
        "SYNCMESH_LOG__LEVEL": "WARNING",
    }
    sync_port, gw_port = free_port(), free_port()
    sync = ManagedProcess(
        "sync",
        [sys.executable, "-m", "syncmesh_sync"],
        env=base | {"SYNCMESH_SYNC_HTTP__PORT": str(sync_port)},
        log_path=tmp / "sync.log",
    ).start()
    STARTED.append(sync)
    wait_http_ok(f"http://127.0.0.1:{sync_port}/readyz", 60, sync)
    gateway = ManagedProcess(
        "gateway",
        [sys.executable, "-m", "syncmesh_gateway"],
        env=base
        | {
            "SYNCMESH_GATEWAY_HTTP__PORT": str(gw_port),
            # The benchmark publishes from one connection: lift its per-connection limits.
            "SYNCMESH_GATEWAY_PUBLISH_RATE__RATE_PER_S": "1000000",
            "SYNCMESH_GATEWAY_PUBLISH_RATE__BURST": "1000000",
            "SYNCMESH_GATEWAY_FRAME_RATE__RATE_PER_S": "1000000",
            "SYNCMESH_GATEWAY_FRAME_RATE__BURST": "1000000",
        },
        log_path=tmp / "gateway.log",
    )
    # The gateway holds every idle connection: it needs the hard file limit.
    raise_nofile()
    gateway.start()
    STARTED.append(gateway)
    wait_http_ok(f"http://127.0.0.1:{gw_port}/readyz", 60, gateway)
    assert gateway.pid
    assert sync.pid
    return Target("gateway", f"ws://127.0.0.1:{gw_port}", gateway.pid, "gateway"), sync


def start_socketio(tmp: Path) -> Target:
    port = free_port()
    proc = ManagedProcess(
        "socketio",
        [sys.executable, "-m", "bench.socketio_server", str(port)],
        log_path=tmp / "socketio.log",
    ).start()
    STARTED.append(proc)
    deadline = time.monotonic() + 30
    import httpx

    while True:
        try:
            httpx.get(f"http://127.0.0.1:{port}/socket.io/?EIO=4&transport=polling", timeout=1)
            break
        except httpx.HTTPError:
            if time.monotonic() > deadline or not proc.alive():
                raise RuntimeError(f"socketio server did not start:\n{proc.tail()}") from None
            time.sleep(0.1)
    assert proc.pid
    return Target("socketio", f"ws://127.0.0.1:{port}", proc.pid, "python-socketio")


class Spy:
    """``py-spy record`` of one process for a few seconds once the load is on."""

    def __init__(self, pid: int, seconds: int, out: Path) -> None:
        self.pid, self.seconds, self.out = pid, seconds, out
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        if self.seconds <= 0:
            return
        py_spy = Path(sys.executable).parent / "py-spy"
        argv = [str(py_spy), "record", "-p", str(self.pid), "-f", "raw", "-o", str(self.out)]
        argv += ["-d", str(self.seconds), "-r", "200", "--nonblocking"]
        self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def collect(self, result: dict[str, Any], key: str) -> None:
        if self.proc is None:
            return
        try:
            self.proc.wait(self.seconds + 30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if self.out.exists():
            result[key] = summarise_profile(self.out)
            keep = RESULTS / f"gateway-{key}.txt"
            keep.write_bytes(self.out.read_bytes())


def summarise_profile(path: Path, top: int = 20) -> dict[str, Any]:
    """Self time per function and time under a few interesting frames, from py-spy's raw
    (collapsed stacks) output."""
    own: Counter[str] = Counter()
    under: Counter[str] = Counter()
    total = 0
    keys = {
        "json encode/decode": ("json", "to_json", "model_validate", "dumps", "loads"),
        "websocket send (uvicorn/websockets)": ("websockets_sansio_impl", "websockets/"),
        "nats client": ("nats/",),
        "fan-out (hubs)": ("hubs.py",),
        "connection writer": ("connection.py",),
        "event loop idle (select)": ("select", "_run_once"),
    }
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        n = int(count)
        total += n
        frames = stack.split(";")
        own[frames[-1]] += n
        for name, needles in keys.items():
            if any(any(s in f for s in needles) for f in frames):
                under[name] += n
    return {
        "samples": total,
        "self_percent": {k: round(100 * v / total, 1) for k, v in own.most_common(top)},
        "inclusive_percent": {k: round(100 * v / total, 1) for k, v in under.most_common()},
    }


def chart(result: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows: list[tuple[str, dict[str, float]]] = []
    if "latency" in result:
        rows.append(("(a) mutate→event", result["latency"]["mutate_to_event_ms"]))
    for r in result.get("fanout", []):
        rate = "max" if r["rate"] == "max" else f"{r['rate']:g}/s"
        rows.append((f"(b) {r['target']}{' batch' if r['batch'] else ''} @{rate}", r["latency_ms"]))
    fig, ax = plt.subplots(figsize=(max(8, 1.1 * len(rows)), 5))
    points = ("p50", "p99", "p99.9")
    width = 0.27
    for k, p in enumerate(points):
        xs = [i + (k - 1) * width for i in range(len(rows))]
        ax.bar(xs, [max(1e-3, r[1].get(p, 0)) for r in rows], width, label=p)
    ax.set_yscale("log")
    ax.set_xticks(range(len(rows)))
    ax.set_xticklabels([r[0] for r in rows], rotation=30, ha="right", fontsize=8)
    ax.set_ylabel("latency, ms (log)")
    ax.axhline(25, color="grey", ls="--", lw=0.8)
    ax.set_title("syncmesh gateway: latency percentiles (one box, loopback)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def ratio(a: float, b: float) -> float | None:
    return round(a / b, 3) if b else None


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, short runs")
    parser.add_argument("--workers", type=int, default=4, help="load generator processes")
    parser.add_argument("--clients", type=int, default=100, help="(a) clients")
    parser.add_argument("--rate", type=float, default=1000, help="(a) mutations/s in total")
    parser.add_argument("--latency-seconds", type=float, default=20)
    parser.add_argument("--subscribers", type=int, default=1000, help="(b) room subscribers")
    parser.add_argument("--fanout-seconds", type=float, default=10, help="(b) max-rate run")
    parser.add_argument("--paced-rate", type=float, default=20, help="(b) paced publishes/s")
    parser.add_argument("--paced-seconds", type=float, default=15)
    parser.add_argument("--window", type=int, default=200, help="(b) max rate: messages ahead")
    parser.add_argument("--idle", type=int, default=10_000, help="(c) idle connections")
    parser.add_argument("--idle-settle-s", type=float, default=3)
    parser.add_argument("--drain-s", type=float, default=20, help="wait for stragglers")
    parser.add_argument("--profile-s", type=int, default=8, help="py-spy on (b) max, 0 = off")
    parser.add_argument("--skip", default="", help="comma list of: latency,fanout,idle,baselines")
    parser.add_argument("--output", default="gateway")
    args = parser.parse_args()
    if args.quick:
        args.latency_seconds, args.subscribers, args.fanout_seconds = 4, 200, 3
        args.paced_seconds, args.idle, args.idle_settle_s, args.drain_s = 3, 1000, 1, 10
        args.profile_s = min(args.profile_s, 2)
        args.output = f"{args.output}-quick"
    skip = set(filter(None, args.skip.split(",")))
    raise_nofile()
    log(f"machine: {machine()}; nofile {resource.getrlimit(resource.RLIMIT_NOFILE)}")
    result: dict[str, Any] = {"config": {k: v for k, v in vars(args).items()}}
    try:
        with tempfile.TemporaryDirectory(prefix="syncmesh-bench-gw-") as tmp_name:
            tmp = Path(tmp_name)
            broker = NatsServer(tmp / "nats").start()
            assert broker.process
            assert broker.process.pid
            STARTED.append(broker.process)
            gw, sync = start_stack(tmp, broker.url)
            assert sync.pid
            server_pids = {"nats-server": broker.process.pid, "sync": sync.pid}
            targets = [gw]
            if "baselines" not in skip:
                wsnats = WsNatsServer(tmp / "wsnats")
                wsnats.start()
                assert wsnats.process
                assert wsnats.process.pid
                STARTED.append(wsnats.process)
                targets.append(
                    Target(
                        "nats",
                        f"ws://127.0.0.1:{wsnats.ws_port}",
                        wsnats.process.pid,
                        "nats-server-ws",
                    )
                )
                targets.append(start_socketio(tmp))
            log("servers: " + ", ".join(f"{t.label} pid {t.pid} {t.url}" for t in targets))

            if "idle" not in skip:
                result["idle"] = [await idle(t, args) for t in targets]
            if "latency" not in skip:
                spy = Spy(gw.pid, args.profile_s, tmp / "profile-latency.txt")
                result["latency"] = await latency(gw, args, server_pids, on_go=spy.start)
                spy.collect(result, "profile_latency")
            if "fanout" not in skip:
                runs = []
                for t in targets:
                    for batch in [False, True] if t.kind == "gateway" else [False]:
                        spy = Spy(
                            t.pid,
                            args.profile_s if t.kind == "gateway" else 0,
                            tmp / f"profile-fanout-{int(batch)}.txt",
                        )
                        runs.append(
                            await fanout(
                                t,
                                args,
                                batch=batch,
                                rate=None,
                                extra_pids=server_pids,
                                on_go=spy.start,
                            )
                        )
                        spy.collect(result, "profile_fanout_batch" if batch else "profile_fanout")
                        runs.append(
                            await fanout(
                                t, args, batch=batch, rate=args.paced_rate, extra_pids=server_pids
                            )
                        )
                result["fanout"] = runs
            result["ratios"] = ratios(result)
            result["targets"] = targets_met(result)
    finally:
        for proc in reversed(STARTED):
            proc.stop()
    path = write_result(args.output, result)
    png = RESULTS / f"{args.output}-latency.png"
    chart(result, png)
    log(f"results written to {path} and {png}")
    summary = {k: result[k] for k in ("targets", "ratios") if k in result}
    print(json.dumps(summary, indent=2))


def _fan(result: dict[str, Any], target: str, batch: bool, rate: Any) -> dict[str, Any]:
    for r in result.get("fanout", []):
        if r["target"] == target and r["batch"] == batch and r["rate"] == rate:
            return dict(r)
    return {}


def ratios(result: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    idle_by = {r["target"]: r for r in result.get("idle", [])}
    gw_idle = idle_by.get("gateway", {}).get("rss_per_connection_kib", 0)
    paced = result["config"]["paced_rate"]
    for base in ("nats-server-ws", "python-socketio"):
        if base in idle_by:
            out[f"idle_rss_per_conn_gateway/{base}"] = ratio(
                gw_idle, idle_by[base]["rss_per_connection_kib"]
            )
        b_max = _fan(result, base, False, "max")
        if b_max:
            for batch in (False, True):
                g = _fan(result, "gateway", batch, "max")
                tag = "batch" if batch else "nobatch"
                out[f"deliveries_per_s_gateway_{tag}/{base}"] = ratio(
                    g.get("deliveries_per_s", 0), b_max["deliveries_per_s"]
                )
                gp, bp = _fan(result, "gateway", batch, paced), _fan(result, base, False, paced)
                if gp and bp:
                    out[f"p99_ms_at_{paced:g}_gateway_{tag}/{base}"] = ratio(
                        gp["latency_ms"].get("p99", 0), bp["latency_ms"].get("p99", 0)
                    )
    return out


def targets_met(result: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if "latency" in result:
        lat = result["latency"]["mutate_to_event_ms"]
        out["a_p50_ms<=5"] = {"value": lat.get("p50"), "met": lat.get("p50", 1e9) <= 5}
        out["a_p99_ms<=25"] = {"value": lat.get("p99"), "met": lat.get("p99", 1e9) <= 25}
    paced = result["config"]["paced_rate"]
    if result.get("fanout"):
        nb = _fan(result, "gateway", False, "max").get("deliveries_per_s", 0)
        b = _fan(result, "gateway", True, "max").get("deliveries_per_s", 0)
        out["b_deliveries_per_s_nobatch>=80000"] = {"value": nb, "met": nb >= 80_000}
        out["b_deliveries_per_s_batch>=500000"] = {"value": b, "met": b >= 500_000}
        for batch in (False, True):
            p99 = _fan(result, "gateway", batch, paced).get("latency_ms", {}).get("p99", 1e9)
            tag = "batch" if batch else "nobatch"
            out[f"b_p99_ms_at_{paced:g}_{tag}<=30"] = {"value": p99, "met": p99 <= 30}
    for r in result.get("idle", []):
        if r["target"] == "gateway":
            v = r["rss_per_connection_kib"]
            out["c_rss_per_conn_kib<=20"] = {
                "value": v,
                "connections": r["connections"],
                "met": v <= 20,
            }
    return out


if __name__ == "__main__":
    uvloop.run(main())
