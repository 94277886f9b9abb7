"""The sync service against a real nats-server: versions, kinds, exactly-once, conflicts
waiting for the resolver, dead letters and the admin API."""

from __future__ import annotations

import asyncio
import itertools
import json
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import nats
import pytest
from fastapi.testclient import TestClient

from syncmesh_kit.auth import issue_token
from syncmesh_kit.settings import DEV_JWT_SECRET
from syncmesh_kit.testing import IntakeClient, running_app
from syncmesh_schema import subjects
from syncmesh_schema.conflict import ResolveReply, ResolveRequest
from syncmesh_schema.sync import DocumentRecord
from syncmesh_sync.app import create_app
from syncmesh_sync.settings import SyncSettings

pytestmark = pytest.mark.integration

ADMIN = {"Authorization": f"Bearer {issue_token(DEV_JWT_SECRET, 'ops', 3600, admin=True)}"}


@pytest.fixture(scope="module")
def sync_app(nats_module) -> Iterator[TestClient]:
    settings = SyncSettings(
        nats={"url": nats_module.url},
        ahead_deliveries=3,
        ahead_wait_s=0.5,
        resolver_timeout_s=0.3,
        max_deliver=5,
    )
    with running_app(create_app(settings)) as client:
        yield client


@pytest.fixture
async def intake(sync_app, nats_module) -> AsyncIterator[IntakeClient]:
    nc = await nats.connect(nats_module.url)
    client = await IntakeClient(nc).start()
    yield client
    await client.close()
    await nc.close()


def ids() -> tuple[str, str, str]:
    """A fresh collection, document and client for each test."""
    u = uuid.uuid4().hex[:10]
    return f"col{u}", f"doc{u}", f"cli{u}"


def mut(client_id, mid, collection, doc_id, base, kind, payload, **extra) -> dict[str, Any]:
    return {
        "client_id": client_id,
        "mutation_id": mid,
        "collection": collection,
        "doc_id": doc_id,
        "base_version": base,
        "kind": kind,
        "payload": payload,
        **extra,
    }


async def test_versions_kinds_and_the_live_feed(intake, nats_module):
    col, doc, cli = ids()
    live: list[Any] = []
    nc = await nats.connect(nats_module.url)

    async def collect(msg: Any) -> None:
        live.append(msg)

    await nc.subscribe(subjects.live_doc(col, doc), cb=collect)
    steps = [
        ("create", {"title": "milk", "n": 1}, {"title": "milk", "n": 1}),
        ("patch", {"n": None, "done": False}, {"title": "milk", "done": False}),
        ("set", {"title": "eggs"}, {"title": "eggs"}),
        ("delete", {}, None),
        ("create", {"title": "again"}, {"title": "again"}),
    ]
    for i, (kind, payload, expected) in enumerate(steps, start=1):
        outcome = await intake.call(mut(cli, i, col, doc, i - 1, kind, payload))
        assert outcome.result.status == "applied", outcome
        assert outcome.result.version == i
        record = DocumentRecord.model_validate_json(await _kv_get(nc, col, doc))
        assert record.data == expected
        assert record.deleted is (expected is None)
    await asyncio.sleep(0.2)
    # Republished with the previous sequence on the subject: gap detection is possible.
    versions = [DocumentRecord.model_validate_json(m.data).version for m in live]
    assert versions == [1, 2, 3, 4, 5]
    seqs = [(int(m.headers["Nats-Sequence"]), int(m.headers["Nats-Last-Sequence"])) for m in live]
    assert seqs[0][1] == 0
    assert all(prev[0] == cur[1] for prev, cur in itertools.pairwise(seqs))
    await nc.close()


async def _kv_get(nc, col, doc) -> bytes:
    kv = await nc.jetstream().key_value(subjects.DOCS_BUCKET)
    return (await kv.get(subjects.doc_key(col, doc))).value


async def test_retries_are_applied_once_with_the_same_outcome(intake):
    col, doc, cli = ids()
    first = await intake.call(mut(cli, 1, col, doc, 0, "create", {"a": 1}))
    # The same Nats-Msg-Id within the window is dropped by JetStream itself ...
    ack = await intake.send(mut(cli, 1, col, doc, 0, "create", {"a": 1}))
    assert ack.duplicate is True
    # ... and a resend after the window (another Msg-Id) is caught by sync.
    again = await intake.call(mut(cli, 1, col, doc, 0, "create", {"a": 1}), msg_id=f"{cli}:1:late")
    assert first.result.status == "applied"
    assert (again.result.status, again.result.outcome) == ("duplicate", "applied")
    assert again.result.version == first.result.version == 1


async def test_rejections_consume_the_id(intake):
    col, doc, cli = ids()
    assert (
        await intake.call(mut(cli, 1, col, doc, 0, "create", {"a": 1}))
    ).result.status == "applied"
    rejected = await intake.call(mut(cli, 2, col, doc, 0, "create", {"a": 2}))
    assert rejected.result.status == "rejected"
    assert "exists" in rejected.result.reason
    assert rejected.result.data == {"a": 1}
    forbidden = await intake.call(mut(cli, 3, col, doc, 1, "set", {"a": 3}), may_write=False)
    assert forbidden.result.status == "rejected"
    assert "may not write" in forbidden.result.reason
    ok = await intake.call(mut(cli, 4, col, doc, 1, "set", {"a": 4}))
    assert (ok.result.status, ok.result.version) == ("applied", 2)


async def test_gaps_and_foreign_clients_are_refused_without_consuming(intake):
    col, doc, cli = ids()
    await intake.call(mut(cli, 1, col, doc, 0, "create", {"a": 1}))
    gap = await intake.call(mut(cli, 3, col, doc, 1, "set", {"a": 3}), wait_s=15)
    assert (gap.error_code, gap.expected) == ("out_of_order", 2)
    other = await intake.call(mut(cli, 2, col, doc, 1, "set", {"a": 2}), user_id="mallory")
    assert other.error_code == "forbidden"
    # A refused mutation is not consumed; its Msg-Id is, so the resend carries a fresh one.
    ok = await intake.call(mut(cli, 2, col, doc, 1, "set", {"a": 2}), msg_id=f"{cli}:2:again")
    assert (ok.result.status, ok.result.version) == ("applied", 2)


async def test_text_ops_with_stale_bases_are_transformed(intake):
    col, doc, a = ids()
    b = a + "b"
    await intake.call(mut(a, 1, col, doc, 0, "create", {"body": "hello world"}))
    # Both edit version 1: a inserts at the front, b deletes "world" and appends.
    r1 = await intake.call(mut(a, 2, col, doc, 1, "text", {"field": "body", "ops": ["Oh, "]}))
    r2 = await intake.call(
        mut(b, 1, col, doc, 1, "text", {"field": "body", "ops": [6, {"d": 5}, "there 😀"]})
    )
    assert (r1.result.version, r2.result.version) == (2, 3)
    record = DocumentRecord.model_validate_json(await _kv_get(intake.nc, col, doc))
    assert record.data == {"body": "Oh, hello there 😀"}
    bad = await intake.call(mut(a, 3, col, doc, 3, "text", {"field": "body", "ops": [100, "x"]}))
    assert bad.result.status == "rejected"
    assert "text op" in bad.result.reason


async def test_crdt_ops_commute_whatever_the_base(intake):
    col, doc, cli = ids()
    results = [
        await intake.call(
            mut(cli, i, col, doc, 0, "crdt", {"field": "likes", "type": "pn_counter", "op": op})
        )
        for i, op in enumerate([{"inc": 5}, {"dec": 2}, {"inc": 10}], start=1)
    ]
    assert [r.result.status for r in results] == ["applied"] * 3
    record = DocumentRecord.model_validate_json(await _kv_get(intake.nc, col, doc))
    assert record.data == {"likes": 13}
    assert record.crdt["likes"]["type"] == "pn_counter"


async def test_a_stale_write_waits_for_the_resolver(intake, sync_app):
    col, doc, a = ids()
    await intake.call(mut(a, 1, col, doc, 0, "create", {"x": 1}))
    await intake.call(mut(a, 2, col, doc, 1, "set", {"x": 2}))
    stale = mut(a + "b", 1, col, doc, 1, "set", {"x": 3})
    await intake.send(stale)
    await asyncio.sleep(1.0)
    assert (stale["client_id"], 1) not in intake.outcomes  # never silently decided
    assert sync_app.get("/admin/stats", headers=ADMIN).json()["resolver_waits"] >= 1
    # A resolver appears (protocol-level stand-in; the real one is the resolver service).
    requests: list[ResolveRequest] = []

    async def resolve(msg):
        req = ResolveRequest.model_validate_json(msg.data)
        requests.append(req)
        reply = ResolveReply(
            outcome="resolved", strategy="client_wins", data=req.mine, fields=["x"]
        )
        await msg.respond(reply.to_json_bytes())

    sub = await intake.nc.subscribe(subjects.RESOLVE, cb=resolve)
    try:
        await intake.wait_for({(stale["client_id"], 1)}, wait_s=15)
    finally:
        await sub.unsubscribe()
    outcome = intake.outcomes[(stale["client_id"], 1)][0]
    assert (outcome.result.status, outcome.result.version) == ("applied", 3)
    assert outcome.result.conflict.strategy == "client_wins"
    assert (requests[0].base, requests[0].mine, requests[0].theirs) == (
        {"x": 1},
        {"x": 3},
        {"x": 2},
    )


async def test_poison_goes_to_the_dead_letter_subject(intake, sync_app):
    js = intake.nc.jetstream()
    before = sync_app.get("/admin/stats", headers=ADMIN).json()["deadlettered"]
    sub = await js.subscribe(subjects.deadletter("sync"), ordered_consumer=True)
    await js.publish(subjects.mutation_intake("poison", "p1"), b"{not json")
    msg = await sub.next_msg(timeout=10)
    assert msg.data == b"{not json"
    assert "not a MutationIntake" in msg.headers["Syncmesh-Error"]
    assert sync_app.get("/admin/stats", headers=ADMIN).json()["deadlettered"] == before + 1
    await sub.unsubscribe()


async def test_admin_docs_stats_and_policies(intake, sync_app):
    col, doc, cli = ids()
    await intake.call(mut(cli, 1, col, doc, 0, "create", {"a": 1}))
    await intake.call(mut(cli, 2, col, doc, 1, "patch", {"b": 2}))
    body = sync_app.get(f"/admin/docs/{col}/{doc}", headers=ADMIN).json()
    assert (body["version"], body["data"]) == (2, {"a": 1, "b": 2})
    assert [h["version"] for h in body["history"]] == [1, 2]
    assert sync_app.get(f"/admin/docs/{col}/nope", headers=ADMIN).status_code == 404
    assert sync_app.get(f"/admin/docs/{col}/no.pe", headers=ADMIN).status_code == 400
    stats = sync_app.get("/admin/stats", headers=ADMIN).json()
    assert stats["applied"] >= 2
    assert stats["intake_backlog"] is not None
    policy = {
        "collection": col,
        "strategy": "merge",
        "fallback": "last_writer_wins",
        "field_rules": {"n": "max"},
    }
    assert sync_app.put(f"/admin/policies/{col}", json=policy, headers=ADMIN).status_code == 200
    assert sync_app.get(f"/admin/policies/{col}", headers=ADMIN).json()["strategy"] == "merge"
    assert col in [p["collection"] for p in sync_app.get("/admin/policies", headers=ADMIN).json()]
    assert (
        sync_app.put(
            f"/admin/policies/{col}", json={**policy, "strategy": "dice"}, headers=ADMIN
        ).status_code
        == 422
    )
    assert sync_app.get("/admin/stats").status_code == 401
    kv = await intake.nc.jetstream().key_value(subjects.POLICIES_BUCKET)
    assert json.loads((await kv.get(subjects.policy_key(col))).value)["field_rules"] == {"n": "max"}
