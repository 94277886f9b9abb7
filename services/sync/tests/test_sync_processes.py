"""Several real sync processes against one nats-server: a hot document under concurrent
stale writers, and exactly-once under SIGKILL with duplicate resends (issue "Done when")."""

from __future__ import annotations

import asyncio
import os
import random
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nats
import pytest

from syncmesh_kit.natsserver import NatsServer
from syncmesh_kit.processes import ManagedProcess, free_port, wait_http_ok
from syncmesh_kit.testing import IntakeClient
from syncmesh_schema import subjects
from syncmesh_schema.sync import DocumentRecord

pytestmark = [pytest.mark.integration, pytest.mark.slow]


class SyncFleet:
    """Sync processes that can be killed and replaced."""

    def __init__(self, nats_url: str, logs: Path, **env: str) -> None:
        self.nats_url = nats_url
        self.logs = logs
        self.env = env
        self.procs: list[tuple[ManagedProcess, int]] = []
        self.started = 0

    def spawn(self, wait: bool = True) -> ManagedProcess:
        port = free_port()
        self.started += 1
        env = (
            dict(os.environ)
            | {
                "SYNCMESH_NATS__URL": self.nats_url,
                "SYNCMESH_SYNC_HTTP__PORT": str(port),
                "SYNCMESH_SYNC_INSTANCE_ID": f"sync{self.started}",
                "SYNCMESH_LOG__FORMAT": "text",
            }
            | self.env
        )
        proc = ManagedProcess(
            f"sync{self.started}",
            [sys.executable, "-m", "syncmesh_sync"],
            env=env,
            log_path=self.logs / f"sync{self.started}.log",
        ).start()
        self.procs.append((proc, port))
        if wait:
            wait_http_ok(f"http://127.0.0.1:{port}/readyz", 30, proc)
        return proc

    def alive(self) -> list[ManagedProcess]:
        return [p for p, _ in self.procs if p.alive()]

    def stop(self) -> None:
        for proc, _ in self.procs:
            proc.stop(timeout=10)


@pytest.fixture
def fleet(nats_server: NatsServer, tmp_path: Path) -> Iterator[SyncFleet]:
    f = SyncFleet(nats_server.url, tmp_path, SYNCMESH_NATS__DEDUP_WINDOW_S="1")
    yield f
    f.stop()


def g_inc(
    client: str, mid: int, doc: str, field: str = "n", kind: str = "pn_counter"
) -> dict[str, Any]:
    return {
        "client_id": client,
        "mutation_id": mid,
        "collection": "hot",
        "doc_id": doc,
        "base_version": 0,
        "kind": "crdt",
        "payload": {"field": field, "type": kind, "op": {"inc": 1}},
    }


async def read_doc(nc, doc: str) -> DocumentRecord:
    kv = await nc.jetstream().key_value(subjects.DOCS_BUCKET)
    return DocumentRecord.model_validate_json((await kv.get(subjects.doc_key("hot", doc))).value)


async def test_four_processes_one_hot_document(fleet, nats_server):
    for _ in range(4):
        fleet.spawn(wait=False)
    for proc, port in fleet.procs:
        wait_http_ok(f"http://127.0.0.1:{port}/readyz", 30, proc)
    nc = await nats.connect(nats_server.url)
    intake = await IntakeClient(nc).start()
    clients = [f"c{i}" for i in range(10)]
    keys = {(c, m) for c in clients for m in range(1, 101)}
    # All 1,000 increments at once, every one written against version 0 (stale).
    for m in range(1, 101):
        for c in clients:
            await intake.send(g_inc(c, m, "counter"))
    await intake.wait_for(keys, wait_s=90)
    statuses = {o[0].result.status for o in intake.outcomes.values() if o[0].result}
    errors = [o[0] for o in intake.outcomes.values() if o[0].error_code]
    assert not errors, errors[:3]
    assert statuses == {"applied"}
    record = await read_doc(nc, "counter")
    assert record.data == {"n": 1000}
    assert record.version == 1000  # versions went 1, 2, 3 … with no gap and no repeat
    await intake.close()
    await nc.close()


async def test_exactly_once_with_kills_and_late_duplicates(fleet, nats_server):
    fleet.spawn()
    fleet.spawn()
    nc = await nats.connect(nats_server.url, max_reconnect_attempts=-1)
    intake = await IntakeClient(nc).start()
    rng = random.Random(20261122)
    n_clients, per_client = 50, 100
    resends = {"same_id": 0, "late": 0, "timeout": 0}
    stop_killing = asyncio.Event()
    kills = 0

    async def killer() -> None:
        nonlocal kills
        while not stop_killing.is_set():
            await asyncio.sleep(rng.uniform(0.3, 1.2))
            alive = fleet.alive()
            if len(alive) >= 2:
                rng.choice(alive).kill()  # SIGKILL, mid-work
                kills += 1
            await asyncio.to_thread(fleet.spawn, False)

    async def client(idx: int) -> None:
        cid = f"ec{idx}"
        for mid in range(1, per_client + 1):
            mutation = g_inc(cid, mid, f"d{idx % 7}", field=f"f{idx % 3}", kind="g_counter")
            msg_id = None
            while (cid, mid) not in intake.outcomes:
                await intake.send(mutation, msg_id=msg_id)
                try:
                    await intake.wait_for({(cid, mid)}, wait_s=2.0)
                except TimeoutError:
                    resends["timeout"] += 1
                    msg_id = f"{cid}:{mid}:{rng.random()}"  # as if after the dedup window
            if rng.random() < 0.1:
                await intake.send(mutation)  # same Msg-Id: JetStream drops it
                resends["same_id"] += 1
            if rng.random() < 0.1:
                await intake.send(mutation, msg_id=f"{cid}:{mid}:late")
                resends["late"] += 1

    kill_task = asyncio.create_task(killer())
    t0 = time.monotonic()
    await asyncio.wait_for(asyncio.gather(*(client(i) for i in range(n_clients))), 240)
    stop_killing.set()
    await kill_task
    # Late resends still in flight get their answers too.
    await asyncio.sleep(3)
    elapsed = time.monotonic() - t0

    total = n_clients * per_client
    assert len(intake.outcomes) == total
    applied_replies = 0
    for key, outcomes in intake.outcomes.items():
        results = [o.result for o in outcomes]
        assert all(r is not None for r in results), (key, outcomes)
        assert {r.version for r in results} == {results[0].version}, (key, results)
        assert all(r.status in ("applied", "duplicate") for r in results), (key, results)
        assert all(r.outcome == "applied" for r in results if r.status == "duplicate"), (
            key,
            results,
        )
        n_applied = sum(r.status == "applied" for r in results)
        assert n_applied <= 1, (key, results)
        applied_replies += n_applied
    # Every mutation applied exactly once: each client's own g_counter entry counts its ids.
    per_replica: dict[str, int] = {}
    for d in range(7):
        record = await read_doc(nc, f"d{d}")
        for field_state in record.crdt.values():
            for replica, n in field_state["counts"].items():
                per_replica[replica] = per_replica.get(replica, 0) + n
    assert per_replica == {f"ec{i}": per_client for i in range(n_clients)}
    print(
        f"\n{total} mutations in {elapsed:.1f}s with {kills} SIGKILLs, resends {resends}, "
        f"{applied_replies} 'applied' replies"
    )
    assert kills >= 3
    assert resends["late"] > 0
    await intake.close()
    await nc.close()
