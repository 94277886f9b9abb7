"""The resolver's admin API over a real nats-server: parked conflicts (list, inspect,
settle), resolution history, statistics, metrics, and the admin guard."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import pytest

from syncmesh_kit.auth import issue_token
from syncmesh_kit.settings import DEV_JWT_SECRET
from syncmesh_schema import subjects

pytestmark = pytest.mark.integration

BASE = {"title": "a", "n": 1}
MINE = {"title": "mine", "n": 1}
THEIRS = {"title": "theirs", "n": 2}


def new_collection() -> str:
    return f"col{uuid.uuid4().hex[:10]}"


async def ask(
    nc: Any, collection: str, *, user: str = "alice", mutation_id: int = 1, **policy: Any
) -> dict[str, Any]:
    client = f"cli-{uuid.uuid4().hex[:8]}"
    request = {
        "mutation": {
            "client_id": client,
            "mutation_id": mutation_id,
            "collection": collection,
            "doc_id": "d1",
            "base_version": 1,
            "kind": "set",
            "payload": MINE,
        },
        "user_id": user,
        "base": BASE,
        "mine": MINE,
        "theirs": THEIRS,
        "base_version": 1,
        "theirs_version": 2,
        "policy": {"collection": collection, **policy},
        "mine_stamp": f"000001732290000500:0000:{client}",
        "theirs_stamp": "000001732290000000:0000:other",
    }
    msg = await nc.request(subjects.RESOLVE, json.dumps(request).encode(), timeout=5)
    return dict(json.loads(msg.data))


async def park(nc: Any, collection: str, user: str = "alice") -> str:
    reply = await ask(nc, collection, user=user, strategy="manual")
    assert reply["outcome"] == "manual"
    return str(reply["conflict_id"])


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/admin/conflicts"),
        ("GET", "/admin/conflicts/abc"),
        ("POST", "/admin/conflicts/abc/resolve"),
        ("GET", "/admin/history"),
        ("GET", "/admin/stats"),
        ("GET", "/admin/streams"),
    ],
)
def test_admin_needs_an_admin_token(resolver_app, method, path):
    body = {"json": {"choice": "theirs"}} if method == "POST" else {}
    anonymous = resolver_app.request(method, path, headers={"Authorization": ""}, **body)
    assert anonymous.status_code == 401
    assert anonymous.json()["detail"]["code"] == "unauthorized"
    user = issue_token(DEV_JWT_SECRET, "alice", 60)
    plain = resolver_app.request(method, path, headers={"Authorization": f"Bearer {user}"}, **body)
    assert plain.status_code == 403


async def test_list_and_inspect_open_conflicts(resolver_app, nc):
    col, other = new_collection(), new_collection()
    a1 = await park(nc, col, "alice")
    b1 = await park(nc, col, "bob")
    a2 = await park(nc, other, "alice")
    listed = resolver_app.get("/admin/conflicts", params={"collection": col}).json()
    assert [c["conflict_id"] for c in listed] == [a1, b1]  # oldest first
    assert listed[0]["mine"] == MINE
    mine = resolver_app.get("/admin/conflicts", params={"user_id": "alice"}).json()
    assert {a1, a2} <= {c["conflict_id"] for c in mine}
    assert b1 not in {c["conflict_id"] for c in mine}
    both = resolver_app.get("/admin/conflicts", params={"collection": col, "user_id": "bob"})
    assert [c["conflict_id"] for c in both.json()] == [b1]
    assert resolver_app.get("/admin/conflicts", params={"collection": "no.pe"}).status_code == 400
    assert resolver_app.get("/admin/conflicts", params={"state": "maybe"}).status_code == 422

    view = resolver_app.get(f"/admin/conflicts/{a1}").json()
    assert view["conflict"]["conflict_id"] == a1
    assert (view["conflict"]["base"], view["conflict"]["theirs"]) == (BASE, THEIRS)
    assert view["fields"] == ["title"]
    assert view["whole_document"] is False
    assert view["suggestion"]["strategy"] == "last_writer_wins"
    assert view["revision"] >= 1
    missing = resolver_app.get(f"/admin/conflicts/{uuid.uuid4().hex}")
    assert (missing.status_code, missing.json()["detail"]["code"]) == (404, "not_found")
    assert resolver_app.get("/admin/conflicts/bad.id").status_code == 400


async def test_resolve_over_http(resolver_app, nc, stand_in):
    col = new_collection()
    keep = await park(nc, col)
    resp = resolver_app.post(f"/admin/conflicts/{keep}/resolve", json={"choice": "theirs"})
    assert resp.status_code == 200, resp.json()
    assert resp.json()["result"]["status"] == "rejected"
    again = resolver_app.post(f"/admin/conflicts/{keep}/resolve", json={"choice": "mine"})
    assert (again.status_code, again.json()["detail"]["code"]) == (404, "not_found")
    bad = resolver_app.post(f"/admin/conflicts/{keep}/resolve", json={"choice": "custom"})
    assert bad.status_code == 422

    intake = await stand_in(col)
    take = await park(nc, col, "bob")
    doc = {"title": "edited by ops"}
    # In a thread: the stand-in sync runs on this test's event loop.
    resp = await asyncio.to_thread(
        resolver_app.post,
        f"/admin/conflicts/{take}/resolve",
        json={"choice": "custom", "data": doc},
    )
    assert resp.status_code == 200, resp.json()
    body = resp.json()
    assert (body["result"]["status"], body["client_id"]) == ("applied", f"cr-{take}")
    [sent] = intake.seen
    assert (sent.mutation.payload, sent.user_id) == (doc, "bob")  # written as the conflict's user

    settled = resolver_app.get(
        "/admin/conflicts", params={"collection": col, "state": "settled"}
    ).json()
    assert {(c["conflict_id"], c["choice"]) for c in settled} == {
        (keep, "theirs"),
        (take, "custom"),
    }
    assert resolver_app.get("/admin/conflicts", params={"collection": col}).json() == []
    history = resolver_app.get("/admin/history", params={"collection": col}).json()
    assert [(h["outcome"], h.get("choice"), h.get("decided_by")) for h in history] == [
        ("settled", "custom", "admin"),
        ("manual", None, None),
        ("settled", "theirs", "admin"),
        ("manual", None, None),
    ]


async def test_history_is_newest_first_and_filtered(resolver_app, nc):
    col, busy = new_collection(), new_collection()
    for strategy in ("server_wins", "client_wins", "last_writer_wins"):
        await ask(nc, col, strategy=strategy)
    # Enough later records elsewhere that col's lie beyond the first backwards window.
    for i in range(300):
        await ask(nc, busy, strategy="client_wins", mutation_id=i + 1)
    history = resolver_app.get("/admin/history", params={"collection": col, "limit": 10}).json()
    assert [h["strategy"] for h in history] == ["last_writer_wins", "client_wins", "server_wins"]
    assert {h["collection"] for h in history} == {col}
    newest = resolver_app.get("/admin/history", params={"collection": busy, "limit": 2}).json()
    assert [h["mutation_id"] for h in newest] == [300, 299]
    everything = resolver_app.get("/admin/history", params={"limit": 5}).json()
    assert [h["mutation_id"] for h in everything] == [300, 299, 298, 297, 296]
    assert len(resolver_app.get("/admin/history").json()) == 50  # history_limit
    assert resolver_app.get("/admin/history", params={"limit": 0}).status_code == 422
    assert resolver_app.get("/admin/history", params={"collection": "a b"}).status_code == 400


async def test_stats_and_metrics_count_by_strategy_and_outcome(resolver_app, nc):
    before = resolver_app.get("/admin/stats").json()
    col = new_collection()
    await ask(nc, col, strategy="first_writer_wins")  # theirs is older: mine's title loses
    await ask(nc, col, strategy="merge", fallback="client_wins")
    await park(nc, col)
    await nc.request(subjects.RESOLVE, b"nonsense", timeout=5)
    after = resolver_app.get("/admin/stats").json()

    def grew(section: str, key: str) -> int:
        return int(after[section].get(key, 0)) - int(before[section].get(key, 0))

    assert grew("by_strategy", "first_writer_wins") == 1
    assert grew("by_strategy", "merge") == 1
    assert grew("by_strategy", "manual") == 1
    assert grew("by_outcome", "rejected") == 1
    assert grew("by_outcome", "resolved") == 1
    assert grew("by_outcome", "manual") == 1
    assert grew("errors", "resolve:bad_request") == 1
    assert after["resolved"] - before["resolved"] == 3
    assert after["open_conflicts"] == before["open_conflicts"] + 1
    assert after["recorded"] >= before["recorded"] + 3
    metrics = resolver_app.get("/metrics").text
    assert 'syncmesh_conflicts_resolved_total{strategy="first_writer_wins"}' in metrics
    assert 'syncmesh_conflict_outcomes_total{outcome="manual"}' in metrics
