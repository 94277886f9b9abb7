"""Mutation shapes of PROTOCOL.md §4."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from syncmesh_schema.mutations import Mutation, MutationResult


def mutation(**over):
    base = {
        "client_id": "c1",
        "mutation_id": 1,
        "collection": "todos",
        "doc_id": "t1",
        "base_version": 0,
        "kind": "set",
        "payload": {"a": 1},
    }
    base.update(over)
    return Mutation.model_validate(base)


@pytest.mark.parametrize(
    ("kind", "payload"),
    [
        ("create", {"title": "x"}),
        ("set", {"title": "x", "n": None}),
        ("patch", {"title": None}),
        ("delete", {}),
        ("text", {"field": "body", "ops": [1, " hi ", 2, {"d": 3}]}),
        ("text", {"field": "body", "ops": [{"d": "abc"}, "😀"]}),
        ("crdt", {"field": "likes", "type": "g_counter", "op": {"inc": 2}}),
        ("crdt", {"field": "score", "type": "pn_counter", "op": {"dec": 1}}),
        ("crdt", {"field": "tags", "type": "g_set", "op": {"add": ["a", 1]}}),
        ("crdt", {"field": "tags", "type": "or_set", "op": {"remove": ["a"]}}),
        ("crdt", {"field": "title", "type": "lww_register", "op": {"set": {"x": 1}}}),
    ],
)
def test_valid_kinds(kind, payload):
    m = mutation(kind=kind, payload=payload)
    assert m.payload == payload
    assert m.key == "c1:1"


@pytest.mark.parametrize(
    ("over", "needle"),
    [
        ({"mutation_id": 0}, "greater than 0"),
        ({"mutation_id": True}, "integer"),
        ({"mutation_id": "1"}, "integer"),
        ({"base_version": -1}, "greater than or equal to 0"),
        ({"kind": "upsert"}, "kind"),
        ({"collection": "a.b"}, "collection must be"),
        ({"doc_id": ""}, "doc_id must be"),
        ({"client_id": "x y"}, "client_id must be"),
        ({"kind": "delete", "payload": {"a": 1}}, "empty payload"),
        ({"payload": [1]}, "dictionary"),
        ({"kind": "text", "payload": {"field": "b", "ops": [0]}}, "ops"),
        ({"kind": "text", "payload": {"field": "b", "ops": [""]}}, "ops"),
        ({"kind": "text", "payload": {"field": "b", "ops": [{"d": 0}]}}, "ops"),
        ({"kind": "text", "payload": {"field": "b", "ops": [True]}}, "ops"),
        ({"kind": "text", "payload": {"field": "b", "ops": []}}, "ops"),
        ({"kind": "crdt", "payload": {"field": "n", "type": "g_counter", "op": {"dec": 1}}}, "inc"),
        (
            {"kind": "crdt", "payload": {"field": "n", "type": "g_counter", "op": {"inc": -1}}},
            "inc",
        ),
        ({"kind": "crdt", "payload": {"field": "n", "type": "mv_register", "op": {}}}, "type"),
        ({"strategy": "coin_flip"}, "strategy"),
        ({"surprise": 1}, "surprise"),
    ],
)
def test_invalid_mutations_say_what_is_wrong(over, needle):
    with pytest.raises(ValidationError) as info:
        mutation(**over)
    assert needle in str(info.value)


def test_result_outcome_is_never_duplicate():
    with pytest.raises(ValidationError):
        MutationResult(mutation_id=1, status="duplicate", version=1, outcome="duplicate")
    ok = MutationResult(mutation_id=1, status="duplicate", version=1, outcome="applied")
    assert ok.dump() == {
        "mutation_id": 1,
        "status": "duplicate",
        "version": 1,
        "outcome": "applied",
    }
