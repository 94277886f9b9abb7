"""Live feeds: the one NATS subscription per channel that a hub listens to.

* ``doc:`` / ``collection:`` — a core subscription on the KV republish
  (``sm.live.doc.<c>.<d>`` / ``sm.live.doc.<c>.*``), whose headers carry the stream sequence
  and the previous sequence on the same subject: core NATS is at-most-once, so the hub checks
  every message for a gap and fills it from the stream (notes/nats-jetstream.md §9).
* ``room:`` / ``presence:`` / ``inbox`` — their streams have no republish, so an ordered
  consumer (ephemeral, memory, flow-controlled; it recreates itself on a gap) from the
  sequence after the current last one.

:func:`start_feed` returns the feed and the stream sequence it starts after: the hub's
first position. For the republish the subscription is made first and the position read
after it, so nothing committed in between is lost (messages at or below it are dropped).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import nats.errors
from nats.aio.msg import Msg
from nats.js.api import ConsumerConfig, DeliverPolicy

from syncmesh_schema import subjects as s
from syncmesh_schema.channels import ChannelRef

from .events import StoredMsg
from .store import Store

OnMessage = Callable[[StoredMsg], None]


class Feed:
    def __init__(self, sub: Any) -> None:
        self._sub: Any = sub

    async def stop(self) -> None:
        sub, self._sub = self._sub, None
        if sub is not None:
            with contextlib.suppress(nats.errors.Error):  # connection already closed
                await sub.unsubscribe()


def republished(ref: ChannelRef) -> bool:
    return ref.kind in ("doc", "collection")


async def start_feed(
    store: Store, ref: ChannelRef, stream: str, filter_subject: str, on_message: OnMessage
) -> tuple[Feed, int, int]:
    """Start the live subscription; returns ``(feed, epoch, start_after)``."""
    if republished(ref):
        assert ref.collection
        live = (
            s.live_doc(ref.collection, ref.doc_id)
            if ref.kind == "doc" and ref.doc_id
            else s.live_collection(ref.collection)
        )

        async def on_republish(msg: Msg) -> None:
            headers = msg.headers or {}
            try:
                stored = StoredMsg(
                    seq=int(headers["Nats-Sequence"]),
                    subject=headers["Nats-Subject"],
                    data=msg.data,
                    prev_seq=int(headers.get("Nats-Last-Sequence", 0)),
                )
            except (KeyError, ValueError):
                return  # not a republished message (someone published on the live subject)
            on_message(stored)

        sub = await store.nc.subscribe(live, cb=on_republish)
        epoch, last = await store.position(stream)
        return Feed(sub), epoch, last

    epoch, last = await store.position(stream)

    async def on_ordered(msg: Msg) -> None:
        on_message(StoredMsg(seq=msg.metadata.sequence.stream, subject=msg.subject, data=msg.data))

    sub = await store.js.subscribe(
        filter_subject,
        stream=stream,
        cb=on_ordered,
        ordered_consumer=True,
        config=ConsumerConfig(
            deliver_policy=DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=last + 1
        ),
    )
    return Feed(sub), epoch, last
