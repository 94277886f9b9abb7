"""Client frames and server frames of PROTOCOL.md §3, as discriminated unions on ``type``.

Parse what a client sends with :data:`CLIENT_FRAME` (``CLIENT_FRAME.validate_json(raw)``);
parse what the server sends (SDKs, tests) with :data:`SERVER_FRAME`. Both adapters are built
once here.
"""

from __future__ import annotations

import json
from typing import Annotated, ClassVar, Literal

from pydantic import (
    Field,
    StrictBool,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)

from .base import ClientInput, JSONObject, JSONValue, WireModel
from .channels import Channel, RoomChannel
from .codes import ErrorCode
from .ids import ClientId, Room
from .mutations import ConflictInfo, Mutation, MutationResult, ResultStatus

FrameId = Annotated[str, Field(max_length=128)]
Token = Annotated[str, Field(min_length=1, max_length=16_384)]
PresenceStatus = Literal["online", "away", "busy", "offline"]
MemberStatus = Literal["online", "away", "busy"]
EventKind = Literal["change", "message", "join", "leave", "status", "notification"]

MAX_PRESENCE_META_BYTES = 4096


class _ClientFrame(ClientInput):
    id: FrameId | None = None


# --- client → server -------------------------------------------------------------------


class Hello(_ClientFrame):
    type: Literal["hello"]
    token: Token
    client_id: ClientId
    batch: StrictBool = False


class Refresh(_ClientFrame):
    type: Literal["refresh"]
    token: Token


class Ping(_ClientFrame):
    type: Literal["ping"]


class Subscribe(_ClientFrame):
    type: Literal["subscribe"]
    channel: Channel
    cursor: Annotated[str, Field(max_length=4096)] | None = None
    snapshot: StrictBool = False


class Unsubscribe(_ClientFrame):
    type: Literal["unsubscribe"]
    channel: Channel


class Mutate(_ClientFrame):
    type: Literal["mutate"]
    mutation: Mutation


class Publish(_ClientFrame):
    type: Literal["publish"]
    channel: RoomChannel
    data: JSONValue


class PresenceSet(_ClientFrame):
    """The ``presence`` frame: set this connection's status in a room (``offline`` = leave)."""

    type: Literal["presence"]
    room: Room
    status: PresenceStatus
    meta: JSONObject | None = None

    @field_validator("meta")
    @classmethod
    def _meta_size(cls, meta: JSONObject | None) -> JSONObject | None:
        if (
            meta is not None
            and len(json.dumps(meta, separators=(",", ":"))) > MAX_PRESENCE_META_BYTES
        ):
            raise ValueError(f"meta must be at most {MAX_PRESENCE_META_BYTES} bytes of JSON")
        return meta


class PresenceState(_ClientFrame):
    type: Literal["presence_state"]
    room: Room


class ConflictResolve(_ClientFrame):
    type: Literal["conflict_resolve"]
    conflict_id: Annotated[str, Field(min_length=1, max_length=256)]
    choice: Literal["mine", "theirs", "custom"]
    data: JSONObject | None = None

    @model_validator(mode="after")
    def _custom_needs_data(self) -> ConflictResolve:
        if self.choice == "custom" and self.data is None:
            raise ValueError("choice 'custom' needs data (the whole document)")
        return self


class NotificationsRead(_ClientFrame):
    type: Literal["notifications_read"]
    ids: Annotated[list[Annotated[str, Field(max_length=256)]], Field(max_length=10_000)] | None = (
        None
    )
    all: StrictBool = False

    @model_validator(mode="after")
    def _ids_or_all(self) -> NotificationsRead:
        if self.ids is None and not self.all:
            raise ValueError("give ids (a list, may be empty) or all: true")
        return self


ClientFrame = Annotated[
    Hello
    | Refresh
    | Ping
    | Subscribe
    | Unsubscribe
    | Mutate
    | Publish
    | PresenceSet
    | PresenceState
    | ConflictResolve
    | NotificationsRead,
    Field(discriminator="type"),
]
CLIENT_FRAME: TypeAdapter[ClientFrame] = TypeAdapter(ClientFrame)
CLIENT_FRAME_TYPES: frozenset[str] = frozenset(
    {
        "hello",
        "refresh",
        "ping",
        "subscribe",
        "unsubscribe",
        "mutate",
        "publish",
        "presence",
        "presence_state",
        "conflict_resolve",
        "notifications_read",
    }
)


# --- server → client -------------------------------------------------------------------


class _Reply(WireModel):
    re: str | None = None


class Welcome(_Reply):
    type: Literal["welcome"] = "welcome"
    session_id: str
    user_id: str
    client_id: str
    server_time: int
    heartbeat_ms: int
    max_frame_bytes: int
    last_mutation_id: int


class Ok(_Reply):
    """``ok``; carries ``exp`` (refresh), ``cursor`` (publish) or ``unread`` (notifications)."""

    type: Literal["ok"] = "ok"
    exp: int | None = None
    cursor: str | None = None
    unread: int | None = None


class Pong(_Reply):
    type: Literal["pong"] = "pong"
    server_time: int


class Subscribed(_Reply):
    type: Literal["subscribed"] = "subscribed"
    channel: str
    cursor: str
    recovered: bool
    snapshot: JSONValue = None


class Unsubscribed(_Reply):
    type: Literal["unsubscribed"] = "unsubscribed"
    channel: str


class Result(_Reply):
    """``result``: the fields of :class:`~syncmesh_schema.mutations.MutationResult`, flat."""

    type: Literal["result"] = "result"
    mutation_id: int
    status: ResultStatus
    version: int
    data: JSONValue = None
    conflict: ConflictInfo | None = None
    outcome: ResultStatus | None = None
    reason: str | None = None


class Member(WireModel):
    """One user in a room: connections collapse to one member."""

    user_id: str
    status: MemberStatus
    meta: JSONObject = Field(default_factory=dict)
    connections: int
    last_seen: int


class Presence(_Reply):
    """Reply to ``presence_state``."""

    type: Literal["presence"] = "presence"
    room: str
    members: list[Member]


class Error(_Reply):
    """``error``; ``expected`` is set for ``out_of_order`` (the next ``mutation_id``)."""

    type: Literal["error"] = "error"
    code: ErrorCode
    message: str
    expected: int | None = None


class Event(WireModel):
    """A pushed event; ``data`` depends on ``kind`` (see :mod:`syncmesh_schema.events`)."""

    type: Literal["event"] = "event"
    channel: str
    cursor: str
    kind: EventKind
    data: JSONValue
    ts: int

    keep_none: ClassVar[frozenset[str]] = frozenset({"data"})


class Resync(WireModel):
    type: Literal["resync"] = "resync"
    channel: str
    reason: str


ServerFrame = Annotated[
    Welcome | Ok | Pong | Subscribed | Unsubscribed | Result | Presence | Error | Event | Resync,
    Field(discriminator="type"),
]
SERVER_FRAME: TypeAdapter[ServerFrame] = TypeAdapter(ServerFrame)


def result_frame(re: str | None, result: MutationResult) -> Result:
    """Build a ``result`` frame from a :class:`MutationResult` (flat, as the protocol says)."""
    return Result(re=re, **result.model_dump())


class FrameError(ValueError):
    """A client frame that cannot be accepted: ``code`` and a message saying what to fix.

    ``frame_id`` is the frame's ``id`` when it could be read, so the error can carry ``re``.
    """

    def __init__(self, code: ErrorCode, message: str, frame_id: str | None = None) -> None:
        super().__init__(message)
        self.code: ErrorCode = code
        self.message = message
        self.frame_id = frame_id


def describe_validation_error(exc: ValidationError) -> str:
    """One readable line per problem: ``field.path: what is wrong``."""
    parts = []
    for err in exc.errors(include_url=False)[:5]:
        # Drop the union tag from the location: it repeats the frame type.
        loc = ".".join(str(p) for p in err["loc"] if p not in CLIENT_FRAME_TYPES)
        msg = err["msg"].removeprefix("Value error, ")
        parts.append(f"{loc}: {msg}" if loc else msg)
    extra = exc.error_count() - len(parts)
    return "; ".join(parts) + (f" (+{extra} more)" if extra > 0 else "")


def parse_client_frame(raw: str | bytes) -> ClientFrame:
    """Parse one client frame or raise :class:`FrameError` (``bad_request``) saying why."""
    try:
        return CLIENT_FRAME.validate_json(raw)
    except ValidationError as exc:
        frame_id = _frame_id(raw)
        if any(e["type"] == "json_invalid" for e in exc.errors()):
            raise FrameError("bad_request", "frame is not valid JSON", None) from None
        first = exc.errors()[0]
        if first["type"] == "union_tag_invalid" and not first["loc"]:
            kinds = ", ".join(sorted(CLIENT_FRAME_TYPES))
            raise FrameError(
                "bad_request",
                f"unknown frame type {first['input'].get('type')!r:.40}; expected one of {kinds}",
                frame_id,
            ) from None
        if not first["loc"]:
            raise FrameError(
                "bad_request", "frame must be a JSON object with a string 'type'", frame_id
            ) from None
        raise FrameError("bad_request", describe_validation_error(exc), frame_id) from None


def _frame_id(raw: str | bytes) -> str | None:
    try:
        obj = json.loads(raw)
    except ValueError:
        return None
    frame_id = obj.get("id") if isinstance(obj, dict) else None
    return frame_id if isinstance(frame_id, str) and len(frame_id) <= 128 else None


# --- HTTP bodies of the gateway (PROTOCOL.md §1) ----------------------------------------


class DocSnapshot(WireModel):
    """A document as ``GET /v1/docs/{collection}/{doc_id}`` and ``subscribed.snapshot`` give
    it; ``version`` 0 with ``data`` null in a snapshot = the document does not exist yet."""

    collection: str
    doc_id: str
    version: int
    data: JSONObject | None
    deleted: bool = False

    keep_none: ClassVar[frozenset[str]] = frozenset({"data"})


class MutationBatch(ClientInput):
    """Body of ``POST /v1/mutations`` (≤ 1,000 entries, ≤ 4 MiB; larger → 413). Entries are
    validated one by one, so a malformed entry gets its own ``error`` in ``results``."""

    mutations: list[JSONObject]


class MutationBatchReply(WireModel):
    """Reply of ``POST /v1/mutations``: one ``result`` or ``error`` frame per entry, in order."""

    results: list[Result | Error]
