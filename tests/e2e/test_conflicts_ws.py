"""A manual conflict through the real gateway: two writers race, the loser gets ``manual``
with base / mine / theirs, settles it with ``conflict_resolve`` and sees the document become
theirs-plus-mine; settling twice answers ``not_found``."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from fastapi.testclient import TestClient

from syncmesh_kit.testing import GatewayClient, running_app
from syncmesh_resolver.app import create_app as create_resolver
from syncmesh_resolver.settings import ResolverSettings

from .conftest import ids, mutation, token

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def resolver(nats_module) -> Iterator[TestClient]:
    with running_app(create_resolver(ResolverSettings(nats={"url": nats_module.url}))) as client:
        yield client


async def test_manual_conflict_is_parked_and_settled_over_the_websocket(
    stack, resolver, sync_service
):
    col, doc, cli = ids()
    admin = {"Authorization": f"Bearer {token('ops', admin=True)}"}
    policy = {"collection": col, "strategy": "manual"}
    assert sync_service.put(f"/admin/policies/{col}", json=policy, headers=admin).status_code == 200
    alice, _ = await GatewayClient.hello(stack.ws_url, token("alice"), cli)
    bob, _ = await GatewayClient.hello(stack.ws_url, token("bob"), cli + "b")
    created = await alice.request(
        {"type": "mutate", "mutation": mutation(cli, 1, col, doc, 0, "create", {"t": "a"})}
    )
    assert created["status"] == "applied"
    theirs = await alice.request(
        {"type": "mutate", "mutation": mutation(cli, 2, col, doc, 1, "set", {"t": "alice"})}
    )
    assert theirs["version"] == 2
    mine = await bob.request(
        {"type": "mutate", "mutation": mutation(cli + "b", 1, col, doc, 1, "set", {"t": "bob"})},
        wait_s=20,
    )
    assert mine["type"] == "result"
    assert mine["status"] == "manual"
    conflict = mine["conflict"]
    assert (conflict["base"], conflict["mine"], conflict["theirs"]) == (
        {"t": "a"},
        {"t": "bob"},
        {"t": "alice"},
    )
    # Only its user may settle it.
    denied = await alice.request(
        {"type": "conflict_resolve", "conflict_id": conflict["conflict_id"], "choice": "mine"}
    )
    assert (denied["type"], denied["code"]) == ("error", "forbidden")
    settled = await bob.request(
        {"type": "conflict_resolve", "conflict_id": conflict["conflict_id"], "choice": "mine"},
        wait_s=40,
    )
    assert (settled["type"], settled["status"]) == ("result", "applied")
    async with httpx.AsyncClient() as http:
        got = await http.get(
            f"{stack.url}/v1/docs/{col}/{doc}", headers={"Authorization": f"Bearer {token('bob')}"}
        )
    snapshot = got.json()
    assert (snapshot["version"], snapshot["data"]) == (3, {"t": "bob"})
    again = await bob.request(
        {"type": "conflict_resolve", "conflict_id": conflict["conflict_id"], "choice": "theirs"}
    )
    assert (again["type"], again["code"]) == ("error", "not_found")
    await alice.close()
    await bob.close()
