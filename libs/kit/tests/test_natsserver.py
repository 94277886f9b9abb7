"""The test servers themselves: a 3-node cluster takes R3 streams and survives a node loss."""

from __future__ import annotations

import asyncio

import nats
import pytest

from syncmesh_kit.jetstream import ensure_topology
from syncmesh_kit.processes import find_nats_server
from syncmesh_schema import subjects

pytestmark = pytest.mark.integration


def test_binary_is_installed_by_the_project():
    assert find_nats_server().endswith("nats-server")


async def test_cluster_with_r3_topology_survives_one_node(nats_cluster):
    nc = await nats.connect(servers=[n.url for n in nats_cluster.nodes], reconnect_time_wait=0.2)
    try:
        js = nc.jetstream(timeout=10)
        report = await ensure_topology(js, replicas=3)
        assert report.ok, report.changes
        info = await js.stream_info(subjects.MUTATIONS_STREAM)
        assert info.config.num_replicas == 3
        ack = await js.publish(
            subjects.mutation_intake("todos", "a"), b"1", headers={"Nats-Msg-Id": "c:1"}
        )
        nats_cluster.nodes[0].kill()
        # Writes continue on the surviving majority (after a leader election if needed).
        for attempt in range(40):  # noqa: B007 (reported below)
            try:
                ack2 = await js.publish(
                    subjects.mutation_intake("todos", "a"), b"2", headers={"Nats-Msg-Id": "c:2"}
                )
                break
            except (nats.errors.TimeoutError, nats.js.errors.NoStreamResponseError):
                await asyncio.sleep(0.5)
        else:
            pytest.fail(f"no write accepted after losing one node ({attempt + 1} tries)")
        assert ack2.seq == ack.seq + 1
    finally:
        await nc.close()
