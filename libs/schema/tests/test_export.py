"""The committed JSON Schemas match the models (``make schema`` regenerates them)."""

from __future__ import annotations

import json
from pathlib import Path

from syncmesh_schema.export import render, schemas

SCHEMA_DIR = Path(__file__).resolve().parents[3] / "docs" / "schema"


def test_committed_schemas_are_current():
    current = schemas()
    committed = {p.stem: p.read_text() for p in SCHEMA_DIR.glob("*.json")}
    assert sorted(committed) == sorted(current), "run 'make schema' and commit docs/schema/"
    stale = [name for name, schema in current.items() if committed[name] != render(schema)]
    assert not stale, f"models changed without a re-export: {stale}; run 'make schema'"


def test_client_frame_schema_names_every_frame_type():
    mapping = json.loads(render(schemas()["client-frame"]))["discriminator"]["mapping"]
    assert set(mapping) == {
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
