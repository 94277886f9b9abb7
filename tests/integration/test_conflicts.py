"""The sync service and the conflict-resolver together on one real nats-server: concurrent
patches merged, one field under each strategy, and a manual conflict end to end (parked →
listed → settled with mine → the new mutation applied by sync)."""

from __future__ import annotations

import asyncio
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
from syncmesh_resolver.app import create_app as create_resolver
from syncmesh_resolver.settings import ResolverSettings
from syncmesh_schema import subjects
from syncmesh_schema.conflict import ConflictResolveReply
from syncmesh_schema.notification import Notification
from syncmesh_sync.app import create_app as create_sync
from syncmesh_sync.settings import SyncSettings

pytestmark = pytest.mark.integration

ADMIN = {"Authorization": f"Bearer {issue_token(DEV_JWT_SECRET, 'ops', 24 * 3600, admin=True)}"}


@pytest.fixture(scope="module")
def apps(nats_module) -> Iterator[tuple[TestClient, TestClient]]:
    """(sync, resolver), both in this process against one NATS."""
    sync = SyncSettings(nats={"url": nats_module.url}, resolver_timeout_s=5.0)
    resolver = ResolverSettings(nats={"url": nats_module.url}, settle_timeout_s=20.0)
    with (
        running_app(create_sync(sync)) as sync_app,
        running_app(create_resolver(resolver)) as resolver_app,
    ):
        yield sync_app, resolver_app


@pytest.fixture
async def intake(apps, nats_module) -> AsyncIterator[IntakeClient]:
    nc = await nats.connect(nats_module.url)
    client = await IntakeClient(nc, user_id="alice").start()
    yield client
    await client.close()
    await nc.close()


def new_ids() -> tuple[str, str]:
    u = uuid.uuid4().hex[:10]
    return f"col{u}", f"doc{u}"


def mut(client_id: str, mid: int, col: str, doc: str, base: int, kind: str, payload: Any) -> Any:
    return {
        "client_id": client_id,
        "mutation_id": mid,
        "collection": col,
        "doc_id": doc,
        "base_version": base,
        "kind": kind,
        "payload": payload,
    }


def set_policy(sync_app: TestClient, collection: str, **policy: Any) -> None:
    resp = sync_app.put(
        f"/admin/policies/{collection}",
        json={"collection": collection, **policy},
        headers=ADMIN,
    )
    assert resp.status_code == 200, resp.json()


def document(sync_app: TestClient, collection: str, doc_id: str) -> dict[str, Any]:
    resp = sync_app.get(f"/admin/docs/{collection}/{doc_id}", headers=ADMIN)
    assert resp.status_code == 200, resp.json()
    return dict(resp.json())


async def test_concurrent_patches_on_different_fields_are_merged(apps, intake):
    sync_app, _ = apps
    col, doc = new_ids()
    set_policy(sync_app, col, strategy="merge")
    a, b = f"a-{col}", f"b-{col}"
    created = await intake.call(mut(a, 1, col, doc, 0, "create", {"title": "t", "done": False}))
    assert created.result.status == "applied"
    # Both edit version 1 at once: whichever sync takes second is stale and gets merged.
    first, second = await asyncio.gather(
        intake.call(mut(a, 2, col, doc, 1, "patch", {"title": "renamed"})),
        intake.call(mut(b, 1, col, doc, 1, "patch", {"done": True}), user_id="bob"),
    )
    results = sorted([first.result, second.result], key=lambda r: r.version)
    assert [(r.status, r.version) for r in results] == [("applied", 2), ("applied", 3)]
    merged = results[1]
    assert merged.conflict is not None
    assert (merged.conflict.strategy, merged.conflict.fields) == ("merge", [])
    assert merged.data == {"title": "renamed", "done": True}
    current = document(sync_app, col, doc)
    assert (current["version"], current["data"]) == (3, {"title": "renamed", "done": True})


SERVER = {"title": "server", "views": 5}
CLIENT_PATCH = {"title": "client", "views": 9}


@pytest.mark.parametrize(
    ("policy", "status", "data"),
    [
        ({"strategy": "server_wins"}, "rejected", SERVER),
        ({"strategy": "client_wins"}, "applied", CLIENT_PATCH),
        ({"strategy": "last_writer_wins"}, "applied", CLIENT_PATCH),
        ({"strategy": "first_writer_wins"}, "rejected", SERVER),
        (
            {"strategy": "merge", "fallback": "server_wins", "field_rules": {"views": "max"}},
            "applied",
            {"title": "server", "views": 9},
        ),
    ],
)
async def test_the_same_field_under_each_strategy(apps, intake, policy, status, data):
    sync_app, resolver_app = apps
    col, doc = new_ids()
    set_policy(sync_app, col, **policy)
    a, b = f"a-{col}", f"b-{col}"
    await intake.call(mut(a, 1, col, doc, 0, "create", {"title": "t", "views": 1}))
    server = await intake.call(mut(a, 2, col, doc, 1, "set", SERVER))
    assert server.result.version == 2
    await asyncio.sleep(0.01)  # b writes later by the clocks too (last/first writer wins)
    stale = await intake.call(mut(b, 1, col, doc, 1, "patch", CLIENT_PATCH), user_id="bob")
    result = stale.result
    assert result.status == status, result
    assert result.conflict is not None
    assert result.conflict.strategy == policy["strategy"]
    assert sorted(result.conflict.fields) == ["title", "views"]
    current = document(sync_app, col, doc)
    assert current["data"] == data
    assert current["version"] == (3 if status == "applied" else 2)
    if status == "rejected":
        assert result.data == SERVER  # the current document
    history = resolver_app.get("/admin/history", params={"collection": col}, headers=ADMIN)
    [record] = history.json()
    assert (record["outcome"], record["strategy"], record["client_id"]) == (
        "resolved" if status == "applied" else "rejected",
        policy["strategy"],
        b,
    )


async def test_a_manual_conflict_end_to_end(apps, intake):
    sync_app, resolver_app = apps
    col, doc = new_ids()
    set_policy(sync_app, col, strategy="manual")
    a, b = f"a-{col}", f"b-{col}"
    await intake.call(mut(a, 1, col, doc, 0, "create", {"title": "t", "body": "x"}))
    await intake.call(mut(a, 2, col, doc, 1, "set", {"title": "server", "body": "x"}))

    # 1. Parked: bob's stale rename waits for a person.
    parked = await intake.call(mut(b, 1, col, doc, 1, "patch", {"title": "mine"}), user_id="bob")
    assert parked.result.status == "manual"
    conflict = parked.result.conflict
    assert conflict is not None
    assert conflict.conflict_id is not None
    cid = conflict.conflict_id
    assert (conflict.base, conflict.mine, conflict.theirs) == (
        {"title": "t", "body": "x"},
        {"title": "mine", "body": "x"},
        {"title": "server", "body": "x"},
    )
    assert document(sync_app, col, doc)["version"] == 2  # nothing applied

    # 2. Listed in the resolver's admin API; bob was notified.
    listed = resolver_app.get("/admin/conflicts", params={"collection": col}, headers=ADMIN)
    [open_conflict] = listed.json()
    assert (open_conflict["conflict_id"], open_conflict["user_id"]) == (cid, "bob")
    note = await intake.js.get_last_msg(subjects.INBOX_STREAM, subjects.inbox("bob"))
    assert Notification.model_validate_json(note.data).data["conflict_id"] == cid

    # Meanwhile alice edits another field: the decision must not undo it.
    await intake.call(mut(a, 3, col, doc, 2, "patch", {"tag": "new"}))

    # 3. Settled by bob (as the gateway forwards conflict_resolve) with mine ...
    request = {"conflict_id": cid, "choice": "mine", "user_id": "bob", "write": [col]}
    msg = await intake.nc.request(
        subjects.CONFLICT_RESOLVE, json.dumps(request).encode(), timeout=30
    )
    reply = ConflictResolveReply.model_validate_json(msg.data)
    assert reply.error_code is None, reply
    assert reply.result is not None

    # 4. ... which sync applied as a new mutation, merged over alice's later edit.
    assert (reply.result.status, reply.result.version) == ("applied", 4)
    current = document(sync_app, col, doc)
    assert current["data"] == {"title": "mine", "body": "x", "tag": "new"}
    last = current["history"][-1]
    assert (last["mutation"]["client_id"], last["mutation"]["user_id"]) == (f"cr-{cid}", "bob")

    # Settled: gone from the open list, a second decision is not_found.
    assert (
        resolver_app.get("/admin/conflicts", params={"collection": col}, headers=ADMIN).json() == []
    )
    again = await intake.nc.request(
        subjects.CONFLICT_RESOLVE, json.dumps({**request, "choice": "theirs"}).encode(), timeout=10
    )
    assert ConflictResolveReply.model_validate_json(again.data).error_code == "not_found"
    outcomes = [
        (h["outcome"], h["strategy"])
        for h in resolver_app.get(
            "/admin/history", params={"collection": col}, headers=ADMIN
        ).json()
    ]
    # Newest first: the settlement, its client_wins merge over alice's edit, the parking.
    assert outcomes == [("settled", "manual"), ("resolved", "client_wins"), ("manual", "manual")]
