"""JetStream access of the sync service: documents, client records, stored results and
collection policies, all in KV buckets. Small named operations; no business rules.

Reads go through bounded LRU caches: sync is the only writer, and every write is a
compare-and-set on the revision read, so a stale cache entry (another sync process wrote
since) costs one failed CAS and a reload, never a lost update.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import OrderedDict
from typing import Generic, TypeVar

from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KeyValue

from syncmesh_schema import subjects as s
from syncmesh_schema.conflict import CollectionPolicy
from syncmesh_schema.mutations import MutationResult
from syncmesh_schema.sync import ClientRecord, DocumentRecord

from .engine import DocState

log = logging.getLogger(__name__)

K = TypeVar("K")
V = TypeVar("V")


class LRU(Generic[K, V]):
    """A bounded mapping that forgets the least recently used entry."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._data: OrderedDict[K, V] = OrderedDict()

    def get(self, key: K) -> V | None:
        value = self._data.get(key)
        if value is not None:
            self._data.move_to_end(key)
        return value

    def put(self, key: K, value: V) -> None:
        self._data[key] = value
        self._data.move_to_end(key)
        if len(self._data) > self._size:
            self._data.popitem(last=False)

    def drop(self, key: K) -> None:
        self._data.pop(key, None)

    def __len__(self) -> int:
        return len(self._data)


class CasConflict(Exception):
    """Someone else wrote first; reload and retry."""


HISTORY_MAX = 64  # = the bucket's history depth


class Store:
    """Documents, client records, results and policies (see the module docstring)."""

    def __init__(
        self,
        nc: Client,
        js: JetStreamContext,
        docs: KeyValue,
        policies: KeyValue,
        *,
        cache_size: int,
        result_ttl_s: float,
    ) -> None:
        self.js = js
        self.nc = nc
        self._timeout = 10.0
        self.docs = docs
        self.policies_kv = policies
        self._doc_cache: LRU[str, DocState] = LRU(cache_size)
        self._client_cache: LRU[str, tuple[ClientRecord | None, int]] = LRU(cache_size)
        self._policies: dict[str, CollectionPolicy] = {}
        self._result_ttl = result_ttl_s
        self._watch_task: asyncio.Task[None] | None = None

    @classmethod
    async def open(
        cls, nc: Client, js: JetStreamContext, *, cache_size: int, result_ttl_s: float
    ) -> Store:
        store = cls(
            nc,
            js,
            await js.key_value(s.DOCS_BUCKET),
            await js.key_value(s.POLICIES_BUCKET),
            cache_size=cache_size,
            result_ttl_s=result_ttl_s,
        )
        await store._start_policy_watch()
        return store

    async def close(self) -> None:
        if self._watch_task:
            self._watch_task.cancel()
            await asyncio.gather(self._watch_task, return_exceptions=True)

    # --- documents ---------------------------------------------------------------------

    async def doc(self, collection: str, doc_id: str, *, fresh: bool = False) -> DocState:
        key = s.doc_key(collection, doc_id)
        if not fresh and (cached := self._doc_cache.get(key)) is not None:
            return cached
        try:
            entry = await self.docs.get(key)
        except KeyNotFoundError:
            state = DocState(collection, doc_id)
        else:
            assert entry.value is not None
            assert entry.revision is not None
            state = DocState.from_record(
                DocumentRecord.model_validate_json(entry.value), entry.revision
            )
        self._doc_cache.put(key, state)
        return state

    async def commit_doc(self, record: DocumentRecord, expected_revision: int) -> DocState:
        """Write a new version iff the record is still at ``expected_revision``."""
        key = s.doc_key(record.collection, record.doc_id)
        try:
            revision = await self.docs.update(key, record.to_json_bytes(), last=expected_revision)
        except KeyWrongLastSequenceError:
            self._doc_cache.drop(key)
            raise CasConflict(key) from None
        except Exception:
            self._doc_cache.drop(key)  # unknown outcome (timeout): re-read before trusting it
            raise
        state = DocState.from_record(record, revision)
        self._doc_cache.put(key, state)
        return state

    async def history(self, collection: str, doc_id: str) -> list[DocumentRecord]:
        """Every kept version of a document, oldest first.

        One batched Direct Get (server ≥ 2.11) instead of ``KeyValue.history``, which creates
        a consumer per call: on a hot document that is thousands of consumers a second."""
        subject = s.kv_subject(s.DOCS_BUCKET, s.doc_key(collection, doc_id))
        request = {"seq": 1, "next_by_subj": subject, "batch": HISTORY_MAX}
        records = [
            DocumentRecord.model_validate_json(data) for data in await self._direct_batch(request)
        ]
        return [r for r in records if r is not None]

    async def _direct_batch(self, request: dict[str, object]) -> list[bytes]:
        """Messages of a batched Direct Get, up to the end-of-batch status message."""
        inbox = self.nc.new_inbox()
        sub = await self.nc.subscribe(inbox)
        try:
            await self.nc.publish(
                f"$JS.API.DIRECT.GET.{s.kv_stream(s.DOCS_BUCKET)}",
                json.dumps(request).encode(),
                reply=inbox,
            )
            out: list[bytes] = []
            while True:
                msg = await sub.next_msg(timeout=self._timeout)
                status = msg.headers.get("Status") if msg.headers else None
                if status is not None:  # 204 EOB, or 404 when the subject has nothing
                    return out
                if msg.data:  # empty = expired result marker
                    out.append(msg.data)
        finally:
            await sub.unsubscribe()

    # --- clients and results -----------------------------------------------------------

    async def client(
        self, client_id: str, *, fresh: bool = False
    ) -> tuple[ClientRecord | None, int]:
        key = s.client_key(client_id)
        if not fresh and (cached := self._client_cache.get(key)) is not None:
            return cached
        try:
            entry = await self.docs.get(key)
        except KeyNotFoundError:
            found: tuple[ClientRecord | None, int] = (None, 0)
        else:
            assert entry.value is not None
            assert entry.revision is not None
            found = (ClientRecord.model_validate_json(entry.value), entry.revision)
        self._client_cache.put(key, found)
        return found

    async def save_client(self, record: ClientRecord, expected_revision: int) -> int:
        key = s.client_key(record.client_id)
        try:
            revision = await self.docs.update(key, record.to_json_bytes(), last=expected_revision)
        except KeyWrongLastSequenceError:
            self._client_cache.drop(key)
            raise CasConflict(key) from None
        except Exception:
            self._client_cache.drop(key)
            raise
        self._client_cache.put(key, (record, revision))
        return revision

    def forget_client(self, client_id: str) -> None:
        self._client_cache.drop(s.client_key(client_id))

    async def put_result(self, client_id: str, result: MutationResult) -> None:
        """Store an outcome for retries older than those kept in the client record."""
        subject = s.kv_subject(s.DOCS_BUCKET, s.result_key(client_id, result.mutation_id))
        await self.js.publish(subject, result.to_json_bytes(), msg_ttl=self._result_ttl)

    async def result(self, client_id: str, mutation_id: int) -> MutationResult | None:
        try:
            entry = await self.docs.get(s.result_key(client_id, mutation_id))
        except KeyNotFoundError:
            return None
        if not entry.value:  # an expired result leaves an empty marker behind
            return None
        return MutationResult.model_validate_json(entry.value)

    # --- policies ----------------------------------------------------------------------

    def policy(self, collection: str) -> CollectionPolicy:
        return self._policies.get(collection) or CollectionPolicy(collection=collection)

    def policies(self) -> list[CollectionPolicy]:
        return sorted(self._policies.values(), key=lambda p: p.collection)

    async def save_policy(self, policy: CollectionPolicy) -> None:
        await self.policies_kv.put(s.policy_key(policy.collection), policy.to_json_bytes())
        self._policies[policy.collection] = policy

    async def _start_policy_watch(self) -> None:
        watcher = await self.policies_kv.watch("policy.>")
        ready = asyncio.Event()

        async def run() -> None:
            async for entry in watcher:
                if entry is None:
                    ready.set()
                    continue
                name = entry.key.removeprefix("policy.")
                if entry.value and entry.operation is None:
                    try:
                        self._policies[name] = CollectionPolicy.model_validate_json(entry.value)
                    except ValueError:
                        log.error("ignoring invalid policy for %s", name)
                else:
                    self._policies.pop(name, None)

        self._watch_task = asyncio.create_task(run(), name="sync-policy-watch")
        await asyncio.wait_for(ready.wait(), 10)
