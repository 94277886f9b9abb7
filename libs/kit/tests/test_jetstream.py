"""JetStream bootstrap against a real nats-server: idempotent create-or-update."""

from __future__ import annotations

import nats
import pytest
from nats.js.api import StreamConfig

from syncmesh_kit.jetstream import ensure_stream, ensure_topology, topology
from syncmesh_schema import subjects

pytestmark = pytest.mark.integration


async def test_creates_everything_then_changes_nothing(nats_server):
    nc = await nats.connect(nats_server.url)
    try:
        js = nc.jetstream()
        first = await ensure_topology(js)
        assert set(first.changes.values()) == {"created"}
        assert len(first.changes) == len(topology())
        second = await ensure_topology(js)
        assert set(second.changes.values()) == {"unchanged"}, second.changes

        docs = (await js.stream_info(subjects.kv_stream(subjects.DOCS_BUCKET))).config
        assert docs.allow_atomic is True
        assert docs.allow_direct is True
        assert docs.republish is not None
        assert docs.republish.dest == "sm.live.doc.>"
        assert docs.max_msgs_per_subject == 64
        presence = (await js.stream_info(subjects.kv_stream(subjects.PRESENCE_BUCKET))).config
        assert presence.subject_delete_marker_ttl == 5
        # The buckets work as nats-py KV buckets.
        kv = await js.key_value(subjects.DOCS_BUCKET)
        rev = await kv.put(subjects.doc_key("todos", "t1"), b"{}")
        assert (await kv.get(subjects.doc_key("todos", "t1"))).revision == rev
    finally:
        await nc.close()


async def test_updates_a_drifted_stream_and_keeps_its_data(nats_server):
    nc = await nats.connect(nats_server.url)
    try:
        js = nc.jetstream()
        await ensure_topology(js)
        await js.publish(subjects.room("lobby"), b"hello")
        rooms = next(c for c in topology() if c.name == subjects.ROOMS_STREAM)
        drifted = StreamConfig.from_response(rooms.as_dict())
        drifted.max_age = 600.0
        await js.update_stream(drifted)
        assert await ensure_stream(js, rooms) == "updated"
        info = await js.stream_info(subjects.ROOMS_STREAM)
        assert info.config.max_age == 3600
        assert info.state.messages == 1
    finally:
        await nc.close()


async def test_survives_a_nats_restart(nats_server):
    nc = await nats.connect(nats_server.url)
    js = nc.jetstream()
    await ensure_topology(js)
    await js.publish(
        subjects.mutation_intake("todos", "t1"), b"m1", headers={"Nats-Msg-Id": "c1:1"}
    )
    await nc.close()
    nats_server.kill()
    nats_server.start()
    nc = await nats.connect(nats_server.url)
    try:
        js = nc.jetstream()
        assert set((await ensure_topology(js)).changes.values()) == {"unchanged"}
        assert (await js.stream_info(subjects.MUTATIONS_STREAM)).state.messages == 1
    finally:
        await nc.close()
