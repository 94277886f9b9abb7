"""JetStream access of the gateway: stream positions and facts, history pages (batched Direct
Get), documents and client records (KV ``sm_docs``), intake and room publishes. Small named
operations, no business rules."""

from __future__ import annotations

import json
import time
from typing import Any

from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import PubAck, StreamInfo
from nats.js.errors import KeyNotFoundError, NotFoundError
from nats.js.kv import KeyValue

from syncmesh_schema import subjects as s
from syncmesh_schema.mutations import MutationResult
from syncmesh_schema.sync import ClientRecord, DocumentRecord, MutationIntake

from .continuity import StreamFacts
from .events import StoredMsg

EPOCH_TTL_S = 10.0


class HistoryTooLong(Exception):
    """More messages to replay than the configured cap."""


def stream_epoch(info: StreamInfo) -> int:
    """The stream's identity: its creation time in microseconds."""
    return int(info.created.timestamp() * 1_000_000) if info.created else 0


class Store:
    def __init__(self, nc: Client, js: JetStreamContext, docs: KeyValue, timeout_s: float) -> None:
        self.nc = nc
        self.js = js
        self.docs = docs
        self.timeout_s = timeout_s
        self._epochs: dict[str, tuple[int, float]] = {}

    @classmethod
    async def open(cls, nc: Client, js: JetStreamContext, timeout_s: float) -> Store:
        return cls(nc, js, await js.key_value(s.DOCS_BUCKET), timeout_s)

    # --- stream positions --------------------------------------------------------------

    async def position(self, stream: str) -> tuple[int, int]:
        """``(epoch, last_seq)`` of ``stream`` right now."""
        info = await self.js.stream_info(stream)
        epoch = stream_epoch(info)
        self._epochs[stream] = (epoch, time.monotonic())
        return epoch, int(info.state.last_seq)

    async def epoch(self, stream: str) -> int:
        """The stream's epoch, cached for a few seconds."""
        cached = self._epochs.get(stream)
        if cached is not None and time.monotonic() - cached[1] < EPOCH_TTL_S:
            return cached[0]
        return (await self.position(stream))[0]

    async def facts(self, stream: str, filter_subject: str) -> StreamFacts:
        info = await self.js.stream_info(stream, subjects_filter=filter_subject)
        config = info.config
        global_limits = (
            bool(config.max_age) or (config.max_bytes or -1) > 0 or (config.max_msgs or -1) > 0
        )
        return StreamFacts(
            epoch=stream_epoch(info),
            first_seq=int(info.state.first_seq),
            last_seq=int(info.state.last_seq),
            global_limits=global_limits,
            per_subject_limit=max(0, config.max_msgs_per_subject or 0),
            subject_counts=dict(info.state.subjects or {}),
        )

    async def oldest_seq(self, stream: str, subject: str) -> int | None:
        """Sequence of the oldest message still stored on ``subject``."""
        page, _ = await self._direct(stream, {"seq": 1, "next_by_subj": subject, "batch": 1})
        return page[0].seq if page else None

    async def history(
        self, stream: str, filter_subject: str, *, after: int, up_to: int, limit: int, page: int
    ) -> list[StoredMsg]:
        """Messages on ``filter_subject`` with ``after < seq <= up_to``, oldest first.

        Raises :class:`HistoryTooLong` past ``limit`` messages."""
        out: list[StoredMsg] = []
        start = after + 1
        while start <= up_to:
            request = {"seq": start, "next_by_subj": filter_subject, "batch": page}
            msgs, pending = await self._direct(stream, request)
            # ``up_to_seq`` bounds only ``multi_last`` requests: bound the pages here.
            kept = [m for m in msgs if m.seq <= up_to]
            out.extend(kept)
            if len(out) > limit:
                raise HistoryTooLong(f"more than {limit} messages to replay")
            if len(kept) < len(msgs) or not msgs or pending == 0:
                break
            start = msgs[-1].seq + 1
        return out

    async def _direct(self, stream: str, request: dict[str, Any]) -> tuple[list[StoredMsg], int]:
        """One batched Direct Get: the messages and how many more match (``Nats-Num-Pending``
        of the end-of-batch marker)."""
        inbox = self.nc.new_inbox()
        sub = await self.nc.subscribe(inbox)
        try:
            await self.nc.publish(
                f"$JS.API.DIRECT.GET.{stream}", json.dumps(request).encode(), reply=inbox
            )
            out: list[StoredMsg] = []
            while True:
                msg = await sub.next_msg(timeout=self.timeout_s)
                headers = msg.headers or {}
                if "Status" in headers:  # 204 end of batch, 404 nothing there
                    return out, int(headers.get("Nats-Num-Pending", 0) or 0)
                out.append(
                    StoredMsg(
                        seq=int(headers["Nats-Sequence"]),
                        subject=headers["Nats-Subject"],
                        data=msg.data,
                    )
                )
        finally:
            await sub.unsubscribe()

    # --- documents and clients ---------------------------------------------------------

    async def document(self, collection: str, doc_id: str) -> tuple[DocumentRecord, int] | None:
        """The current record and its revision (= stream sequence), ``None`` if never written."""
        try:
            entry = await self.docs.get(s.doc_key(collection, doc_id))
        except KeyNotFoundError:
            return None
        if not entry.value or entry.revision is None:
            return None
        return DocumentRecord.model_validate_json(entry.value), int(entry.revision)

    async def client_record(self, client_id: str) -> ClientRecord | None:
        try:
            entry = await self.docs.get(s.client_key(client_id))
        except KeyNotFoundError:
            return None
        if not entry.value:
            return None
        return ClientRecord.model_validate_json(entry.value)

    async def stored_result(self, client_id: str, mutation_id: int) -> MutationResult | None:
        try:
            entry = await self.docs.get(s.result_key(client_id, mutation_id))
        except (KeyNotFoundError, NotFoundError):
            return None
        if not entry.value:
            return None
        return MutationResult.model_validate_json(entry.value)

    # --- publishing --------------------------------------------------------------------

    async def publish_intake(self, intake: MutationIntake, msg_id: str) -> PubAck:
        m = intake.mutation
        return await self.js.publish(
            s.mutation_intake(m.collection, m.doc_id),
            intake.to_json_bytes(),
            stream=s.MUTATIONS_STREAM,
            headers={"Nats-Msg-Id": msg_id},
        )

    async def publish(self, subject: str, data: bytes, stream: str) -> PubAck:
        return await self.js.publish(subject, data, stream=stream)
