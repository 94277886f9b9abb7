"""JetStream topology: every stream and KV bucket syncmesh uses, created idempotently.

Created with nats-py, never with FastStream's ``declare=True`` (which overwrites an existing
stream's settings — nats-jetstream.md §13). :func:`ensure_topology` creates what is missing,
updates what differs in the fields we own, and leaves the rest alone, so every service can
run it at start-up, in any order, concurrently.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Literal

from nats.js import JetStreamContext
from nats.js.api import (
    DiscardPolicy,
    RePublish,
    RetentionPolicy,
    StorageType,
    StreamConfig,
)
from nats.js.errors import APIError, BadRequestError, NotFoundError

from syncmesh_schema import subjects as s

log = logging.getLogger(__name__)

MIB = 1024 * 1024
DAY = 24 * 3600.0

StreamChange = Literal["created", "updated", "unchanged", "failed"]


def kv_stream_config(
    bucket: str,
    *,
    history: int,
    replicas: int,
    ttl_s: float | None = None,
    limit_marker_ttl_s: float | None = None,
    max_bytes: int = -1,
    **extra: Any,
) -> StreamConfig:
    """The stream behind a KV bucket, as nats-py's ``create_key_value`` builds it, plus
    ``extra`` fields (``allow_atomic``, ``republish`` …) that it cannot set."""
    return StreamConfig(
        name=s.kv_stream(bucket),
        subjects=[f"$KV.{bucket}.>"],
        allow_direct=True,
        allow_rollup_hdrs=True,
        allow_msg_ttl=True,
        deny_delete=True,
        discard=DiscardPolicy.NEW,
        duplicate_window=min(120.0, ttl_s) if ttl_s else 120.0,
        max_age=ttl_s or 0,
        max_msgs_per_subject=history,
        max_bytes=max_bytes,
        max_msg_size=-1,
        storage=StorageType.FILE,
        num_replicas=replicas,
        subject_delete_marker_ttl=limit_marker_ttl_s,
        **extra,
    )


def topology(replicas: int = 1, dedup_window_s: float = 120.0) -> list[StreamConfig]:
    """Every stream and bucket of the stack (DESIGN.md, "State lives in JetStream")."""
    return [
        # Accepted mutations: durable even while sync is down; a work queue, since every
        # mutation is processed once and its outcome is kept with the client record.
        StreamConfig(
            name=s.MUTATIONS_STREAM,
            subjects=[s.MUTATIONS_ALL],
            retention=RetentionPolicy.WORK_QUEUE,
            storage=StorageType.FILE,
            discard=DiscardPolicy.NEW,  # refuse new intake rather than drop accepted work
            max_age=30 * DAY,
            max_bytes=1024 * MIB,
            max_msg_size=5 * MIB,
            duplicate_window=dedup_window_s,
            num_replicas=replicas,
        ),
        # Documents and client records; one atomic batch commits both. Republished live
        # with Nats-Sequence / Nats-Last-Sequence so gateways can detect gaps.
        kv_stream_config(
            s.DOCS_BUCKET,
            history=64,
            replicas=replicas,
            allow_atomic=True,
            republish=RePublish(src=f"$KV.{s.DOCS_BUCKET}.doc.>", dest="sm.live.doc.>"),
        ),
        kv_stream_config(s.PRESENCE_BUCKET, history=1, replicas=replicas, limit_marker_ttl_s=5),
        kv_stream_config(s.INBOX_STATE_BUCKET, history=1, replicas=replicas),
        kv_stream_config(s.POLICIES_BUCKET, history=16, replicas=replicas),
        kv_stream_config(s.CONFLICTS_BUCKET, history=8, replicas=replicas),
        StreamConfig(
            name=s.ROOMS_STREAM,
            subjects=[s.ROOMS_ALL],
            storage=StorageType.FILE,
            max_age=3600.0,
            max_msgs_per_subject=1000,
            max_bytes=256 * MIB,
            max_msg_size=MIB,
            duplicate_window=120.0,
            allow_direct=True,
            allow_msg_ttl=True,
            num_replicas=replicas,
        ),
        StreamConfig(
            name=s.PRESENCE_STREAM,
            subjects=[s.PRESENCE_ALL],
            storage=StorageType.FILE,
            max_age=600.0,
            max_msgs_per_subject=10_000,
            max_bytes=128 * MIB,
            duplicate_window=120.0,
            allow_direct=True,
            num_replicas=replicas,
        ),
        StreamConfig(
            name=s.INBOX_STREAM,
            subjects=[s.INBOX_ALL],
            storage=StorageType.FILE,
            max_age=30 * DAY,
            max_msgs_per_subject=10_000,
            max_bytes=1024 * MIB,
            max_msg_size=MIB,
            # Notification ids are deduplicated for good by the notification service (KV);
            # the window only absorbs concurrent and quickly retried sends.
            duplicate_window=dedup_window_s,
            allow_direct=True,
            allow_msg_ttl=True,
            num_replicas=replicas,
        ),
        StreamConfig(
            name=s.DEADLETTER_STREAM,
            subjects=[s.DEADLETTER_ALL],
            storage=StorageType.FILE,
            max_age=30 * DAY,
            max_bytes=256 * MIB,
            duplicate_window=120.0,
            num_replicas=replicas,
        ),
        # Every conflict resolution (the resolver's audit log and its admin history),
        # bounded by age and size; Msg-Id dedup absorbs retried resolve requests.
        StreamConfig(
            name=s.RESOLUTIONS_STREAM,
            subjects=[s.RESOLUTIONS_ALL],
            storage=StorageType.FILE,
            max_age=30 * DAY,
            max_bytes=256 * MIB,
            max_msg_size=MIB,
            duplicate_window=120.0,
            allow_direct=True,
            num_replicas=replicas,
        ),
    ]


@dataclass(frozen=True)
class TopologyReport:
    changes: dict[str, StreamChange]

    @property
    def ok(self) -> bool:
        return "failed" not in self.changes.values()


def _differences(want: StreamConfig, have: StreamConfig) -> list[str]:
    """Fields we set whose value on the server differs."""
    have_d = have.as_dict()
    return [k for k, v in want.as_dict().items() if have_d.get(k) != v]


async def ensure_stream(js: JetStreamContext, config: StreamConfig) -> StreamChange:
    """Create ``config`` or bring the fields it sets up to date; never deletes anything."""
    assert config.name
    try:
        info = await js.stream_info(config.name)
    except NotFoundError:
        try:
            await js.add_stream(config)
            return "created"
        except BadRequestError as exc:
            # Another service created it between our look-up and our create.
            if exc.err_code != 10058:  # stream name already in use
                raise RuntimeError(
                    f"cannot create stream {config.name}: {exc.description}"
                ) from exc
            info = await js.stream_info(config.name)
        except APIError as exc:
            raise RuntimeError(f"cannot create stream {config.name}: {exc.description}") from exc
    diff = _differences(config, info.config)
    if not diff:
        return "unchanged"
    try:
        await js.update_stream(config)
    except BadRequestError as exc:
        log.error(
            "stream %s differs in %s and cannot be updated (%s); fix or recreate it by hand",
            config.name,
            ", ".join(diff),
            exc.description,
        )
        return "failed"
    log.info("updated stream %s: %s", config.name, ", ".join(diff))
    return "updated"


async def ensure_topology(
    js: JetStreamContext, replicas: int = 1, dedup_window_s: float = 120.0
) -> TopologyReport:
    """Ensure every stream and bucket exists with our settings."""
    changes = {}
    for config in topology(replicas, dedup_window_s):
        assert config.name
        changes[config.name] = await ensure_stream(js, config)
    created = [n for n, c in changes.items() if c == "created"]
    if created:
        log.info("created %d JetStream streams/buckets: %s", len(created), ", ".join(created))
    return TopologyReport(changes)
