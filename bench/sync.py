"""Sync service benchmark (``make bench-sync``): intake-to-commit throughput and commit
latency at a fixed rate, against a real nats-server and real sync processes.

1. **Drain**: N mutations are queued in the intake stream while sync is stopped; then the
   sync processes start and the clock runs until every outcome is back. That measures what
   sync sustains, whatever the load generator could do.
2. **Paced**: with sync running, mutations are published at a fixed rate (default 1,000/s);
   latency = outcome received − publish sent (intake + commit + record + reply), p50/p99,
   plus the service's own acceptance-to-commit histogram.

Every client writes its own document with the right base version (no conflicts): the
figures are the exactly-once pipeline's, not the resolver's.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import nats

from bench.common import CpuMeter, percentiles, write_result
from syncmesh_kit.auth import issue_token
from syncmesh_kit.jetstream import ensure_topology
from syncmesh_kit.natsserver import NatsServer
from syncmesh_kit.processes import ManagedProcess, free_port, wait_http_ok
from syncmesh_kit.settings import DEV_JWT_SECRET
from syncmesh_schema import subjects
from syncmesh_schema.mutations import Mutation, MutationKind
from syncmesh_schema.sync import MutationIntake, MutationOutcome


def mutation(client: int, mid: int) -> Mutation:
    kind: MutationKind = "create" if mid == 1 else "patch"
    payload: dict[str, Any] = {"n": 0, "owner": f"c{client}"} if mid == 1 else {"n": mid}
    return Mutation(
        client_id=f"b{client}",
        mutation_id=mid,
        collection="bench",
        doc_id=f"d{client}",
        base_version=mid - 1,
        kind=kind,
        payload=payload,
    )


class Collector:
    def __init__(self) -> None:
        self.received: dict[tuple[str, int], float] = {}
        self.errors = 0
        self.kinds: dict[str, int] = {}
        self.done = asyncio.Event()
        self.expect = 0

    async def on_msg(self, msg: Any) -> None:
        outcome = MutationOutcome.model_validate_json(msg.data)
        key = (outcome.client_id, outcome.mutation_id)
        if key not in self.received:
            self.received[key] = time.perf_counter()
            if outcome.result is None or outcome.result.status != "applied":
                self.errors += 1
                kind = outcome.error_code or (outcome.result.status if outcome.result else "?")
                self.kinds[kind] = self.kinds.get(kind, 0) + 1
            if len(self.received) >= self.expect:
                self.done.set()


def intake_bytes(m: Mutation, reply_to: str) -> bytes:
    return MutationIntake(
        mutation=m, user_id="bench", received_at=int(time.time() * 1000), reply_to=reply_to
    ).to_json_bytes()


STARTED: list[ManagedProcess] = []
"""Every sync process this run started: stopped at the end whatever happens."""


def start_sync(nats_url: str, n: int, logs: Path) -> list[tuple[ManagedProcess, int]]:
    procs = []
    for i in range(n):
        port = free_port()
        env = dict(os.environ) | {
            "SYNCMESH_NATS__URL": nats_url,
            "SYNCMESH_SYNC_HTTP__PORT": str(port),
            "SYNCMESH_SYNC_INSTANCE_ID": f"bench{i}",
            "SYNCMESH_LOG__FORMAT": "text",
            "SYNCMESH_LOG__LEVEL": "WARNING",
        }
        procs.append(
            (
                ManagedProcess(
                    f"sync{i}",
                    [sys.executable, "-m", "syncmesh_sync"],
                    env=env,
                    log_path=logs / f"sync{i}.log",
                ).start(),
                port,
            )
        )
    STARTED.extend(p for p, _ in procs)
    for proc, port in procs:
        wait_http_ok(f"http://127.0.0.1:{port}/readyz", 60, proc)
    return procs


async def drain(
    nats_url: str, server: NatsServer, clients: int, per_client: int, processes: int, logs: Path
) -> dict[str, Any]:
    nc = await nats.connect(nats_url)
    js = nc.jetstream(publish_async_max_pending=4000)
    await ensure_topology(js)  # sync is not running yet: create the streams it would
    collector = Collector()
    reply_to = subjects.results("bench-drain")
    await nc.subscribe(reply_to, cb=collector.on_msg)
    total = clients * per_client
    collector.expect = total
    t0 = time.perf_counter()
    for mid in range(1, per_client + 1):
        for c in range(clients):
            m = mutation(c, mid)
            await js.publish_async(
                subjects.mutation_intake(m.collection, m.doc_id),
                intake_bytes(m, reply_to),
                headers={"Nats-Msg-Id": m.key},
            )
    await js.publish_async_completed()
    queued_s = time.perf_counter() - t0
    print(
        f"queued {total} mutations in {queued_s:.1f}s; starting {processes} sync process(es)",
        flush=True,
    )
    procs = start_sync(nats_url, processes, logs)
    assert server.process
    assert server.process.pid
    meter = CpuMeter(
        {"nats-server": server.process.pid} | {p.name: p.pid for p, _ in procs if p.pid}
    )
    meter.start()
    t1 = time.perf_counter()
    last_report = t1
    while not collector.done.is_set():
        await asyncio.sleep(0.2)
        if time.perf_counter() - last_report > 2:
            last_report = time.perf_counter()
            print(f"  {len(collector.received)}/{total} committed", flush=True)
        if time.perf_counter() - t1 > float(os.environ.get("BENCH_DRAIN_LIMIT_S", 600)) or not all(
            p.alive() for p, _ in procs
        ):
            tails = "\n".join(p.tail(30) for p, _ in procs)
            raise TimeoutError(
                f"drain did not finish ({len(collector.received)}/{total}):\n{tails}"
            )
    elapsed = max(collector.received.values()) - t1
    cpu = meter.stop()
    for proc, _ in procs:
        proc.stop()
    await nc.close()
    return {
        "mutations": total,
        "clients": clients,
        "processes": processes,
        "seconds": round(elapsed, 2),
        "mutations_per_s": round(total / elapsed),
        "errors": collector.errors,
        "error_kinds": collector.kinds,
        "cpu_percent": cpu,
    }


async def paced(
    nats_url: str, server: NatsServer, rate: int, seconds: float, processes: int, logs: Path
) -> dict[str, Any]:
    procs = start_sync(nats_url, processes, logs)
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    collector = Collector()
    reply_to = subjects.results("bench-paced")
    await nc.subscribe(reply_to, cb=collector.on_msg)
    clients = max(1, rate // 10)  # each client writes ~10 mutations/s to its own document
    total = int(rate * seconds)
    collector.expect = total
    sent: dict[tuple[str, int], float] = {}
    next_mid = [1] * clients
    assert server.process
    assert server.process.pid
    meter = CpuMeter(
        {"nats-server": server.process.pid, "load-generator": os.getpid()}
        | {p.name: p.pid for p, _ in procs if p.pid}
    )
    meter.start()
    t0 = time.perf_counter()
    pending: set[asyncio.Future[Any]] = set()
    for i in range(total):
        target = t0 + i / rate
        delay = target - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        c = i % clients
        # Wait for the client's previous mutation: a real client sends its base version.
        m = mutation(c + 100_000, next_mid[c])
        next_mid[c] += 1
        sent[(m.client_id, m.mutation_id)] = time.perf_counter()
        fut = await js.publish_async(
            subjects.mutation_intake(m.collection, m.doc_id),
            intake_bytes(m, reply_to),
            headers={"Nats-Msg-Id": m.key},
        )
        pending.add(fut)
    await js.publish_async_completed()
    await asyncio.wait_for(collector.done.wait(), 120)
    achieved = total / (time.perf_counter() - t0)
    cpu = meter.stop()
    latencies = [
        (collector.received[k] - t) * 1000 for k, t in sent.items() if k in collector.received
    ]
    admin = issue_token(DEV_JWT_SECRET, "bench", 60, admin=True)
    async with httpx.AsyncClient() as http:
        stats = (
            await http.get(
                f"http://127.0.0.1:{procs[0][1]}/admin/stats",
                headers={"Authorization": f"Bearer {admin}"},
            )
        ).json()
    for proc, _ in procs:
        proc.stop()
    await nc.close()
    return {
        "rate_target": rate,
        "rate_achieved": round(achieved),
        "mutations": total,
        "processes": processes,
        "errors": collector.errors,
        "error_kinds": collector.kinds,
        "publish_to_outcome_ms": percentiles(latencies),
        "acceptance_to_commit_ms_1m": stats["commit_latency_ms_1m"],
        "cpu_percent": cpu,
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--per-client", type=int, default=20)
    parser.add_argument("--processes", type=int, default=1)
    parser.add_argument("--rate", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=10)
    args = parser.parse_args()
    try:
        with (
            tempfile.TemporaryDirectory(prefix="syncmesh-bench-") as tmp,
            NatsServer(Path(tmp) / "nats") as server,
        ):
            logs = Path(tmp)
            result = {
                "drain": await drain(
                    server.url, server, args.clients, args.per_client, args.processes, logs
                )
            }
            print("drain:", result["drain"], flush=True)
            result["paced"] = await paced(
                server.url, server, args.rate, args.seconds, args.processes, logs
            )
            print("paced:", result["paced"], flush=True)
            result["targets"] = {"mutations_per_s": 5000, "p99_ms_at_1000_per_s": 20}
            path = write_result(f"sync-{args.processes}proc", result)
            print(f"results written to {path}")
    finally:
        for proc in STARTED:
            proc.stop()


if __name__ == "__main__":
    asyncio.run(main())
