"""Slow consumers (4008) next to a normal client, graceful shutdown (4000), the HTTP
endpoints and the admin API."""

from __future__ import annotations

import asyncio
import socket
import time
from urllib.parse import urlparse

import httpx
import nats
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from syncmesh_gateway.app import create_app as create_gateway
from syncmesh_gateway.server import GatewayServer, uvicorn_config
from syncmesh_kit.auth import issue_token
from syncmesh_kit.settings import DEV_JWT_SECRET
from syncmesh_kit.testing import GatewayClient, ServerThread
from syncmesh_schema import subjects
from syncmesh_schema.rooms import RoomMessage

from .conftest import gateway_settings, ids, mutation, token, wait_ready

pytestmark = pytest.mark.e2e


async def slow_reader(ws_url: str) -> GatewayClient:
    """A client whose socket takes almost nothing: once its buffers are full it reads no more."""
    url = urlparse(ws_url)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, (url.hostname, url.port))
    ws = await connect(f"{ws_url}/v1/ws", sock=sock, max_queue=1)
    return GatewayClient(ws)


async def test_a_client_that_stops_reading_is_closed_4008_others_get_everything(stack):
    room = ids()[0]
    channel = f"room:{room}"
    normal, _ = await GatewayClient.hello(stack.ws_url, token("n"), room + "n")
    slow = await slow_reader(stack.ws_url)
    await slow.request({"type": "hello", "token": token("s"), "client_id": room + "s"})
    for c in (normal, slow):
        assert (await c.request({"type": "subscribe", "channel": channel}))["type"] == "subscribed"
    nc = await nats.connect(stack.nats_url)
    js = nc.jetstream()
    count = 400
    reading = asyncio.create_task(normal.events(channel, count, wait_s=30))
    for i in range(count):
        msg = RoomMessage(room=room, user_id="pub", data={"i": i, "pad": "x" * 20_000}, ts=i)
        await js.publish(subjects.room(room), msg.to_json_bytes())
    got = [e["data"]["data"]["i"] for e in await reading]
    assert got == list(range(count))
    code = None
    try:
        while True:
            await slow.recv(10)
    except ConnectionClosed as exc:
        code = exc.rcvd.code if exc.rcvd else None
    assert code == 4008
    assert (await normal.request({"type": "ping"}))["type"] == "pong"
    await normal.close()
    await nc.close()


async def test_http_endpoints(stack):
    col, doc, cli = ids()
    alice = {"Authorization": f"Bearer {token('alice')}"}
    async with httpx.AsyncClient(base_url=stack.url, timeout=20) as http:
        assert (await http.post("/v1/commands", json={"type": "ping"})).status_code == 401
        pong = await http.post("/v1/commands", json={"type": "ping", "id": "p"}, headers=alice)
        assert (pong.status_code, pong.json()["type"], pong.json()["re"]) == (200, "pong", "p")
        hello = await http.post(
            "/v1/commands", json={"type": "hello", "token": "t", "client_id": "c"}, headers=alice
        )
        assert (hello.status_code, hello.json()["code"]) == (400, "bad_request")
        big = await http.post(
            "/v1/commands", json={"type": "ping", "pad": "x" * 70_000}, headers=alice
        )
        assert big.status_code == 413
        created = await http.post(
            "/v1/commands",
            json={"type": "mutate", "mutation": mutation(cli, 1, col, doc, 0, "create", {"a": 1})},
            headers=alice,
        )
        assert created.json()["status"] == "applied"
        snap = await http.get(f"/v1/docs/{col}/{doc}", headers=alice)
        assert snap.json() == {
            "collection": col,
            "doc_id": doc,
            "version": 1,
            "data": {"a": 1},
            "deleted": False,
        }
        by_query = await http.get(f"/v1/docs/{col}/{doc}", params={"token": token("alice")})
        assert by_query.status_code == 200
        assert (await http.get(f"/v1/docs/{col}/nope", headers=alice)).status_code == 404
        assert (await http.get(f"/v1/docs/{col}/no.pe", headers=alice)).status_code == 400
        limited = {"Authorization": f"Bearer {token('eve', channels=['room:*'])}"}
        assert (await http.get(f"/v1/docs/{col}/{doc}", headers=limited)).status_code == 403
        sub = await http.post(
            "/v1/commands",
            json={"type": "subscribe", "channel": f"doc:{col}/{doc}", "snapshot": True},
            headers=alice,
        )
        assert (sub.json()["type"], sub.json()["snapshot"]["version"]) == ("subscribed", 1)
        published = await http.post(
            "/v1/commands",
            json={"type": "publish", "channel": "room:lobby", "data": "hi"},
            headers=alice,
        )
        assert published.json()["type"] == "ok"
        too_many = {"mutations": [mutation(cli, 2, col, doc, 1, "set", {})] * 1001}
        assert (await http.post("/v1/mutations", json=too_many, headers=alice)).status_code == 413
        huge = {"mutations": [mutation(cli, 2, col, doc, 1, "set", {"p": "x" * (5 << 20)})]}
        assert (await http.post("/v1/mutations", json=huge, headers=alice)).status_code == 413
        openapi = (await http.get("/openapi.json")).json()
        for path in ("/v1/commands", "/v1/mutations", "/v1/docs/{collection}/{doc_id}"):
            assert path in openapi["paths"]


async def test_admin_connections_and_metrics(stack):
    room = ids()[0]
    client, _ = await GatewayClient.hello(stack.ws_url, token("adm"), room + "c")
    await client.request({"type": "subscribe", "channel": f"room:{room}"})
    admin = {"Authorization": f"Bearer {issue_token(DEV_JWT_SECRET, 'ops', 600, admin=True)}"}
    async with httpx.AsyncClient(base_url=stack.url, timeout=10) as http:
        assert (await http.get("/admin/connections")).status_code == 401
        stats = (await http.get("/admin/connections", headers=admin)).json()
        assert stats["count"] >= 1
        assert stats["by_transport"]["ws"] >= 1
        assert stats["channels"][f"room:{room}"] == 1
        metrics = (await http.get("/metrics")).text
        assert 'syncmesh_gateway_connections{transport="ws"}' in metrics
        assert "syncmesh_gateway_messages_delivered_total" in metrics
    await client.close()


async def test_graceful_shutdown_closes_with_4000(nats_module, sync_service):
    settings = gateway_settings(nats_module.url)
    app = create_gateway(settings)
    running = ServerThread(GatewayServer(uvicorn_config(app, settings), app.state.gateway))
    with running:
        wait_ready(running.url)
        clients = [
            (await GatewayClient.hello(running.ws_url, token("z"), f"shut{i}{time.time_ns()}"))[0]
            for i in range(3)
        ]
        stopper = asyncio.get_running_loop().run_in_executor(None, running.stop)
        for client in clients:
            with pytest.raises(ConnectionClosed) as closed:
                await client.recv(10)
            assert closed.value.rcvd is not None
            assert closed.value.rcvd.code == 4000
        await stopper
