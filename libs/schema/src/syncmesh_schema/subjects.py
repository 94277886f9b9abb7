"""Every NATS subject, stream, bucket, durable and queue-group name of syncmesh.

Builders validate their ids (:mod:`syncmesh_schema.ids`), so no ``.``, ``*``, ``>`` or space
from a client can reach a subject. User ids are encoded with
:func:`~syncmesh_schema.ids.user_token`.

Layout (``sm.`` prefix for everything we own):

==========================================  ===========================  =========================
subject                                     carried by                   payload
==========================================  ===========================  =========================
``sm.mut.<collection>.<doc_id>``            stream ``SM_MUTATIONS``      ``MutationIntake``
``$KV.sm_docs.doc.<collection>.<doc_id>``   bucket ``sm_docs``           ``DocumentRecord``
``$KV.sm_docs.client.<client_id>``          bucket ``sm_docs``           ``ClientRecord``
``$KV.sm_docs.result.<client>.<mutation>``  bucket ``sm_docs``           ``MutationResult``
``sm.live.doc.<collection>.<doc_id>``       republish of ``sm_docs``     ``DocumentRecord``
``sm.room.<room>``                          stream ``SM_ROOMS``          ``RoomMessage``
``sm.presence.<room>``                      stream ``SM_PRESENCE``       ``PresenceEvent``
``sm.inbox.<user>``                         stream ``SM_INBOX``          ``Notification``
``sm.dlq.<source>``                         stream ``SM_DEADLETTER``     the poisoned message
``sm.results.<gateway_id>``                 core NATS                    ``MutationOutcome``
``sm.resolve``                              core request/reply           ``ResolveRequest``
``sm.presence.report``                      core NATS                    ``PresenceReport``
``sm.svc.ping`` / ``sm.svc.info.<service>`` core request/reply           ``ServiceInfo``
``sm.sync.advanced.<client_id>``            core NATS (sync to sync)     ``last_mutation_id``
``sm.resolution.<collection>``              stream ``SM_RESOLUTIONS``    ``ResolutionRecord``
``sm.conflict.resolve``                     core request/reply           ``ConflictResolveRequest``
``$KV.sm_conflicts.conflict.<id>``          bucket ``sm_conflicts``      ``ManualConflict``
``sm.notification.read``                    core request/reply           ``NotificationReadRequest``
``$KV.sm_inbox_state.state.<user>``         bucket ``sm_inbox_state``    ``InboxState``
``$KV.sm_inbox_state.seen.<user>.<id>``     bucket ``sm_inbox_state``    ``SeenRecord``
``$KV.sm_presence.member.<room>.<user>``    bucket ``sm_presence``       (room membership)
==========================================  ===========================  =========================
"""

from __future__ import annotations

from typing import Final

from .channels import ChannelRef
from .ids import user_token, validate_id

PREFIX: Final = "sm"

# --- streams and buckets ---------------------------------------------------------------
MUTATIONS_STREAM: Final = "SM_MUTATIONS"
ROOMS_STREAM: Final = "SM_ROOMS"
PRESENCE_STREAM: Final = "SM_PRESENCE"
INBOX_STREAM: Final = "SM_INBOX"
DEADLETTER_STREAM: Final = "SM_DEADLETTER"

DOCS_BUCKET: Final = "sm_docs"
PRESENCE_BUCKET: Final = "sm_presence"
INBOX_STATE_BUCKET: Final = "sm_inbox_state"
POLICIES_BUCKET: Final = "sm_policies"
CONFLICTS_BUCKET: Final = "sm_conflicts"


def kv_stream(bucket: str) -> str:
    """The stream behind a KV bucket."""
    return f"KV_{bucket}"


# --- consumers and queue groups --------------------------------------------------------
SYNC_INTAKE_DURABLE: Final = "sync-intake"
RESOLVER_QUEUE: Final = "resolver"
PRESENCE_QUEUE: Final = "presence"
NOTIFICATION_QUEUE: Final = "notification"

# --- subjects --------------------------------------------------------------------------
MUTATIONS_ALL: Final = f"{PREFIX}.mut.>"
ROOMS_ALL: Final = f"{PREFIX}.room.>"
PRESENCE_ALL: Final = f"{PREFIX}.presence.>"
INBOX_ALL: Final = f"{PREFIX}.inbox.>"
DEADLETTER_ALL: Final = f"{PREFIX}.dlq.>"
LIVE_DOCS_ALL: Final = f"{PREFIX}.live.doc.>"
RESOLVE: Final = f"{PREFIX}.resolve"
PRESENCE_REPORT: Final = f"{PREFIX}.presence-report"
SERVICE_PING: Final = f"{PREFIX}.svc.ping"


def mutation_intake(collection: str, doc_id: str) -> str:
    return f"{PREFIX}.mut.{validate_id(collection, 'collection')}.{validate_id(doc_id, 'doc_id')}"


def doc_key(collection: str, doc_id: str) -> str:
    """KV key of a document in :data:`DOCS_BUCKET`."""
    return f"doc.{validate_id(collection, 'collection')}.{validate_id(doc_id, 'doc_id')}"


def client_key(client_id: str) -> str:
    """KV key of a client record (``last_mutation_id`` and stored results)."""
    return f"client.{validate_id(client_id, 'client_id')}"


def result_key(client_id: str, mutation_id: int) -> str:
    """KV key of one stored mutation outcome (kept for late retries)."""
    return f"result.{validate_id(client_id, 'client_id')}.{int(mutation_id)}"


def policy_key(collection: str) -> str:
    """KV key of a collection's conflict policy in :data:`POLICIES_BUCKET`."""
    return f"policy.{validate_id(collection, 'collection')}"


def kv_subject(bucket: str, key: str) -> str:
    return f"$KV.{bucket}.{key}"


def live_doc(collection: str, doc_id: str) -> str:
    return (
        f"{PREFIX}.live.doc.{validate_id(collection, 'collection')}.{validate_id(doc_id, 'doc_id')}"
    )


def room(room_name: str) -> str:
    return f"{PREFIX}.room.{validate_id(room_name, 'room')}"


def presence(room_name: str) -> str:
    return f"{PREFIX}.presence.{validate_id(room_name, 'room')}"


def inbox(user_id: str) -> str:
    return f"{PREFIX}.inbox.{user_token(user_id)}"


def deadletter(source: str) -> str:
    return f"{PREFIX}.dlq.{validate_id(source, 'source')}"


def results(gateway_id: str) -> str:
    return f"{PREFIX}.results.{validate_id(gateway_id, 'gateway_id')}"


SYNC_ADVANCED_ALL: Final = f"{PREFIX}.sync.advanced.*"


def sync_advanced(client_id: str) -> str:
    """Core subject on which sync processes announce a client's new ``last_mutation_id``, so
    that a process holding that client's next mutation goes on at once."""
    return f"{PREFIX}.sync.advanced.{validate_id(client_id, 'client_id')}"


def service_info(service: str) -> str:
    return f"{PREFIX}.svc.info.{validate_id(service, 'service')}"


def channel_source(ref: ChannelRef, user_id: str) -> tuple[str, str]:
    """``(stream, filter subject)`` holding a channel's history, for replay on resume."""
    if ref.kind == "doc":
        assert ref.collection
        assert ref.doc_id
        return kv_stream(DOCS_BUCKET), kv_subject(DOCS_BUCKET, doc_key(ref.collection, ref.doc_id))
    if ref.kind == "collection":
        assert ref.collection
        key = f"doc.{validate_id(ref.collection, 'collection')}.*"
        return kv_stream(DOCS_BUCKET), kv_subject(DOCS_BUCKET, key)
    if ref.kind == "room":
        assert ref.room
        return ROOMS_STREAM, room(ref.room)
    if ref.kind == "presence":
        assert ref.room
        return PRESENCE_STREAM, presence(ref.room)
    return INBOX_STREAM, inbox(user_id)


# --- conflict resolver -----------------------------------------------------------------
RESOLUTIONS_STREAM: Final = "SM_RESOLUTIONS"
RESOLUTIONS_ALL: Final = f"{PREFIX}.resolution.>"
CONFLICT_RESOLVE: Final = f"{PREFIX}.conflict.resolve"


def resolution(collection: str) -> str:
    """Subject of a collection's resolution records in :data:`RESOLUTIONS_STREAM`."""
    return f"{PREFIX}.resolution.{validate_id(collection, 'collection')}"


def conflict_key(conflict_id: str) -> str:
    """KV key of a parked manual conflict in :data:`CONFLICTS_BUCKET`."""
    return f"conflict.{validate_id(conflict_id, 'conflict_id')}"


# --- gateway ---------------------------------------------------------------------------


def live_collection(collection: str) -> str:
    """Core subject matching the republished changes of every document of a collection."""
    return f"{PREFIX}.live.doc.{validate_id(collection, 'collection')}.*"


# --- notification service --------------------------------------------------------------
NOTIFICATION_READ: Final = f"{PREFIX}.notification.read"


def inbox_state_key(user_id: str) -> str:
    """KV key of a user's read state in :data:`INBOX_STATE_BUCKET`."""
    return f"state.{user_token(user_id)}"


def inbox_seen_key(user_id: str, notification_id: str) -> str:
    """KV key of the dedup record of one notification id (any string, encoded)."""
    return f"seen.{user_token(user_id)}.{user_token(notification_id)}"


def presence_members(room_name: str) -> str:
    """KV key filter of a room's members in :data:`PRESENCE_BUCKET`: keys
    ``member.<room>.<user_token>`` (the value is the presence service's business)."""
    return f"member.{validate_id(room_name, 'room')}.*"


# --- presence (issue 6) ----------------------------------------------------------------
PRESENCE_STATE: Final = f"{PREFIX}.presence-state"
"""Core request/reply ``PresenceStateRequest`` → ``PresenceStateReply`` (queue group
:data:`PRESENCE_QUEUE`). Deliberately outside ``sm.presence.>``, which the stream captures."""
PRESENCE_CONNS: Final = "conn.>"
"""KV key filter of every connection key in :data:`PRESENCE_BUCKET`."""
PRESENCE_CONFIGS: Final = "config.>"
"""KV key filter of every room's presence config in :data:`PRESENCE_BUCKET`."""


def presence_conn_key(room_name: str, user_id: str, connection_id: str) -> str:
    """KV key of one connection's presence in a room, written by its gateway with a TTL."""
    return (
        f"conn.{validate_id(room_name, 'room')}.{user_token(user_id)}"
        f".{validate_id(connection_id, 'connection_id')}"
    )


def presence_member_key(room_name: str, user_id: str) -> str:
    """KV key ``member.<room>.<user_token>``: the user is present (presence service writes it)."""
    return f"member.{validate_id(room_name, 'room')}.{user_token(user_id)}"


def presence_config_key(room_name: str) -> str:
    """KV key of a room's ``RoomPresenceConfig``."""
    return f"config.{validate_id(room_name, 'room')}"
