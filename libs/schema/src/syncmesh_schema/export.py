"""JSON Schema export of the wire models (``make schema`` → ``docs/schema/``).

A test regenerates these in memory and compares them with the committed files, so a model
change without a re-export fails the build.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel, TypeAdapter

from . import (
    auth,
    client,
    conflict,
    events,
    mutations,
    notification,
    presence,
    rooms,
    service,
    sync,
)

_MODELS: dict[str, type[BaseModel]] = {
    "mutation": mutations.Mutation,
    "mutation-result": mutations.MutationResult,
    "token-claims": auth.TokenClaims,
    "event-change": events.ChangeData,
    "event-message": events.MessageData,
    "event-presence": events.PresenceEventData,
    "event-notification": events.NotificationData,
    "bus-mutation-intake": sync.MutationIntake,
    "bus-mutation-outcome": sync.MutationOutcome,
    "bus-document-record": sync.DocumentRecord,
    "bus-client-record": sync.ClientRecord,
    "bus-resolve-request": conflict.ResolveRequest,
    "bus-resolve-reply": conflict.ResolveReply,
    "bus-collection-policy": conflict.CollectionPolicy,
    "bus-manual-conflict": conflict.ManualConflict,
    "bus-resolve-error": conflict.ResolveError,
    "bus-resolution-record": conflict.ResolutionRecord,
    "bus-conflict-resolve-request": conflict.ConflictResolveRequest,
    "bus-conflict-resolve-reply": conflict.ConflictResolveReply,
    "http-conflict-resolve": conflict.ConflictResolveBody,
    "bus-presence-report": presence.PresenceReport,
    "bus-presence-event": presence.PresenceEvent,
    "bus-presence-connection": presence.PresenceConnection,
    "bus-room-presence-config": presence.RoomPresenceConfig,
    "bus-presence-state-request": presence.PresenceStateRequest,
    "bus-presence-state-reply": presence.PresenceStateReply,
    "bus-room-message": rooms.RoomMessage,
    "http-notification-send": notification.NotificationSend,
    "http-doc-snapshot": client.DocSnapshot,
    "http-mutation-batch": client.MutationBatch,
    "http-mutation-batch-reply": client.MutationBatchReply,
    "bus-notification": notification.Notification,
    "http-notification-send-reply": notification.NotificationSendReply,
    "http-notifications-read": notification.NotificationsReadBody,
    "http-notification-page": notification.NotificationPage,
    "http-notification-item": notification.NotificationItem,
    "event-notification-read-state": notification.ReadStateData,
    "bus-notification-read-request": notification.NotificationReadRequest,
    "bus-notification-read-reply": notification.NotificationReadReply,
    "kv-inbox-state": notification.InboxState,
    "kv-inbox-seen": notification.SeenRecord,
    "bus-service-info": service.ServiceInfo,
}
_UNIONS: dict[str, TypeAdapter[Any]] = {
    "client-frame": client.CLIENT_FRAME,
    "server-frame": client.SERVER_FRAME,
}


def schemas() -> dict[str, dict[str, Any]]:
    """File stem → JSON Schema of every exported model."""
    out: dict[str, dict[str, Any]] = {
        name: adapter.json_schema(mode="validation") for name, adapter in _UNIONS.items()
    }
    out.update(
        {name: model.model_json_schema(mode="validation") for name, model in _MODELS.items()}
    )
    return out


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def write(directory: Path) -> list[Path]:
    """Write every schema into ``directory`` (removing stale ones); return the paths written."""
    directory.mkdir(parents=True, exist_ok=True)
    current = schemas()
    for stale in directory.glob("*.json"):
        if stale.stem not in current:
            stale.unlink()
    paths = []
    for name, schema in sorted(current.items()):
        path = directory / f"{name}.json"
        path.write_text(render(schema))
        paths.append(path)
    return paths


def main() -> None:
    """``python -m syncmesh_schema.export [DIR]``."""
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "docs/schema")
    written = write(target)
    print(f"wrote {len(written)} JSON Schemas to {target}/")


if __name__ == "__main__":
    main()
