"""A channel hub against a real nats-server: live changes from the KV republish, a missed
republish filled from the stream in order, and ``resync`` when order cannot be repaired."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import nats
import pytest
from prometheus_client import CollectorRegistry

from syncmesh_gateway.events import StoredMsg
from syncmesh_gateway.hubs import Hubs
from syncmesh_gateway.metrics import GatewayMetrics
from syncmesh_gateway.settings import GatewaySettings
from syncmesh_gateway.store import Store
from syncmesh_kit.jetstream import ensure_topology
from syncmesh_schema import subjects as s
from syncmesh_schema.channels import parse_channel
from syncmesh_schema.events import MutationMeta
from syncmesh_schema.sync import DocumentRecord

pytestmark = pytest.mark.integration


class Recorder:
    """Stands in for a connection: collects what the hub queues."""

    def __init__(self) -> None:
        self.frames: list[dict[str, Any]] = []

    def send_text(self, text: str) -> None:
        self.frames.append(json.loads(text))


async def until(check: Any, wait_s: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + wait_s
    while not check():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


def record(col: str, doc: str, version: int) -> bytes:
    meta = MutationMeta(client_id="c", mutation_id=version, user_id="u", kind="set")
    rec = DocumentRecord(
        collection=col,
        doc_id=doc,
        version=version,
        data={"v": version},
        updated_at=1,
        mutation=meta,
    )
    return rec.to_json_bytes()


async def test_gaps_are_refilled_in_order_or_resynced(nats_module):
    nc = await nats.connect(nats_module.url)
    js = nc.jetstream()
    await ensure_topology(js)
    settings = GatewaySettings(nats={"url": nats_module.url})
    hubs = Hubs(await Store.open(nc, js, 5.0), settings, GatewayMetrics(CollectorRegistry()))
    col = "hubcol"
    channel = f"collection:{col}"
    ref = parse_channel(channel)
    stream, filt = s.channel_source(ref, "u")
    hub = await hubs.acquire(ref, channel, stream, filt)
    rec = Recorder()
    member = hub.attach(rec)  # type: ignore[arg-type]
    member.go_live()
    kv = await js.key_value(s.DOCS_BUCKET)
    seq_a1 = await kv.put(s.doc_key(col, "a"), record(col, "a", 1))
    await until(lambda: len(rec.frames) == 1)
    assert [f["data"]["version"] for f in rec.frames] == [1]
    # Take the hub off the live feed and write two versions behind its back ...
    await hub._feed.stop()  # type: ignore[union-attr]
    seq_a2 = await kv.put(s.doc_key(col, "a"), record(col, "a", 2))
    seq_b1 = await kv.put(s.doc_key(col, "b"), record(col, "b", 1))
    seq_a3 = await kv.put(s.doc_key(col, "a"), record(col, "a", 3))
    # ... then hand it the last one as the republish would: previous on its subject = a2.
    subject = s.kv_subject(s.DOCS_BUCKET, s.doc_key(col, "a"))
    hub._inbox.put_nowait(StoredMsg(seq_a3, subject, record(col, "a", 3), prev_seq=seq_a2))
    await until(lambda: len(rec.frames) == 4)
    got = [(f["data"]["doc_id"], f["data"]["version"]) for f in rec.frames]
    assert got == [("a", 1), ("a", 2), ("b", 1), ("a", 3)]
    assert seq_a1 < seq_a2 < seq_b1 < seq_a3
    # A message whose predecessor on its subject was never delivered, behind the position:
    # order cannot be repaired → resync.
    seq_a4 = seq_a3 + 10
    hub._inbox.put_nowait(StoredMsg(seq_a4, subject, record(col, "a", 5), prev_seq=seq_a1))
    await until(lambda: len(rec.frames) == 6)
    assert rec.frames[-2]["type"] == "resync"
    assert rec.frames[-1]["data"]["version"] == 5
    await hubs.stop()
    await nc.close()
