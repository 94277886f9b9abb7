"""Presence benchmark: 10,000 members join one room through a gateway stand-in.

Starts nats-server and the presence service as its own process, writes 10,000 connection
keys (``PresenceReporter``), and reports: time until ``presence_state`` lists all of them,
join events stored per second, ``presence_state`` latency for the full room, and the RSS of
the service process. Prints JSON and writes ``bench/results/presence.json``.

    .venv/bin/python services/presence/bench_presence.py [--members 10000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import nats
from nats.aio.client import Client

from syncmesh_kit.natsserver import NatsServer
from syncmesh_kit.presence import PresenceReporter
from syncmesh_schema import subjects
from syncmesh_schema.presence import PresenceStateReply, PresenceStateRequest

RESULTS = Path(__file__).resolve().parents[2] / "bench" / "results"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


async def state_count(nc: Client, room: str) -> int:
    total = 0
    offset: int | None = 0
    while offset is not None:
        req = PresenceStateRequest(room=room, user_id="bench", offset=offset)
        msg = await nc.request(subjects.PRESENCE_STATE, req.to_json_bytes(), timeout=10)
        reply = PresenceStateReply.model_validate_json(msg.data)
        total += len(reply.members)
        offset = reply.next_offset
    return total


async def stored_events(nc: Client, room: str) -> int:
    info = await nc.jetstream().stream_info(
        subjects.PRESENCE_STREAM, subjects_filter=subjects.presence(room)
    )
    return sum((info.state.subjects or {}).values())


async def measure(url: str, pid: int, members: int) -> dict[str, Any]:
    nc = await nats.connect(url)
    try:
        while True:  # the service answers once it is up
            try:
                await state_count(nc, "warmup")
                break
            except (nats.errors.NoRespondersError, nats.errors.TimeoutError):
                await asyncio.sleep(0.2)
        rss_before = rss_mib(pid)
        room = "bench"
        gw = PresenceReporter(nc.jetstream(), "gw-bench", ttl_s=120)
        started = time.perf_counter()
        for i in range(members):
            await gw.report(f"c{i}", f"user-{i}", room, "online", {"n": i}, wait=False)
        await gw.flush()
        written = time.perf_counter() - started
        while await state_count(nc, room) < members:  # noqa: ASYNC110  # polls the service
            await asyncio.sleep(0.05)
        to_state = time.perf_counter() - started
        while await stored_events(nc, room) < members:  # noqa: ASYNC110  # polls the stream
            await asyncio.sleep(0.05)
        to_events = time.perf_counter() - started
        latencies = []
        for _ in range(20):
            t0 = time.perf_counter()
            assert await state_count(nc, room) == members
            latencies.append((time.perf_counter() - t0) * 1000)
        latencies.sort()
        return {
            "members": members,
            "writes_s": round(written, 3),
            "time_to_state_s": round(to_state, 3),
            "time_to_all_join_events_s": round(to_events, 3),
            "join_events_per_s": round(members / to_events, 1),
            "presence_state_ms": {
                "p50": round(latencies[len(latencies) // 2], 2),
                "max": round(latencies[-1], 2),
            },
            "service_rss_mib": {"before": rss_before, "after": rss_mib(pid)},
        }
    finally:
        await nc.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=10_000)
    args = parser.parse_args()
    with NatsServer() as server:
        env = {
            **os.environ,
            "SYNCMESH_PRESENCE_NATS__URL": server.url,
            "SYNCMESH_PRESENCE_HTTP__PORT": str(free_port()),
            "SYNCMESH_PRESENCE_LOG__LEVEL": "WARNING",
        }
        proc = subprocess.Popen([sys.executable, "-m", "syncmesh_presence"], env=env)
        try:
            result = asyncio.run(measure(server.url, proc.pid, args.members))
        finally:
            proc.terminate()
            proc.wait(timeout=15)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "presence.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
