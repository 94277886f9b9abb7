"""The resolver's decisions, without NATS: every strategy, field rules, no base, bad input."""

from __future__ import annotations

from typing import Any

import pytest

from syncmesh_resolver.errors import InvalidRequestError
from syncmesh_resolver.resolution import (
    conflict_id_for,
    decide,
    differing_fields,
    explain,
    notification_for,
    parked_conflict,
    parse_stamp,
    record_for,
    record_msg_id,
    reply_for,
)
from syncmesh_schema.conflict import ResolveRequest

EARLY = "000001732290000000:0000"
LATE = "000001732290000500:0000"


def request(
    base: dict[str, Any] | None,
    mine: dict[str, Any] | None,
    theirs: dict[str, Any] | None,
    *,
    strategy: str | None = None,
    kind: str = "set",
    payload: dict[str, Any] | None = None,
    mine_stamp: str = f"{LATE}:alice-phone",
    theirs_stamp: str = f"{EARLY}:bob-laptop",
    **policy: Any,
) -> ResolveRequest:
    return ResolveRequest.model_validate(
        {
            "mutation": {
                "client_id": "alice-phone",
                "mutation_id": 7,
                "collection": "todos",
                "doc_id": "t1",
                "base_version": 3,
                "kind": kind,
                "payload": payload if payload is not None else (mine or {}),
                "strategy": strategy,
            },
            "user_id": "alice",
            "base": base,
            "mine": mine,
            "theirs": theirs,
            "base_version": 3,
            "theirs_version": 5,
            "policy": {"collection": "todos", **policy},
            "mine_stamp": mine_stamp,
            "theirs_stamp": theirs_stamp,
        }
    )


BASE = {"title": "a", "done": False, "n": 1}
MINE = {"title": "mine", "done": True, "n": 1}
THEIRS = {"title": "theirs", "done": False, "n": 2}


@pytest.mark.parametrize(
    ("strategy", "stamps_swapped", "title", "title_from"),
    [
        ("server_wins", False, "theirs", "theirs"),
        ("client_wins", False, "mine", "mine"),
        ("last_writer_wins", False, "mine", "mine"),
        ("last_writer_wins", True, "theirs", "theirs"),
        ("first_writer_wins", False, "theirs", "theirs"),
        ("first_writer_wins", True, "mine", "mine"),
        ("merge", False, "theirs", "theirs"),  # fallback server_wins
    ],
)
def test_each_strategy_settles_the_true_conflict_and_keeps_one_sided_changes(
    strategy, stamps_swapped, title, title_from
):
    stamps = {"mine_stamp": f"{EARLY}:alice-phone", "theirs_stamp": f"{LATE}:bob"}
    req = request(BASE, MINE, THEIRS, strategy=strategy, **(stamps if stamps_swapped else {}))
    d = decide(req)
    assert d.outcome == "resolved"
    assert (d.strategy, d.requested) == (strategy, strategy)
    assert d.document == {"title": title, "done": True, "n": 2}
    assert d.fields == ["title"]
    assert d.sources == {"title": title_from, "done": "mine", "n": "theirs"}
    reply = reply_for(d)
    assert (reply.outcome, reply.data, reply.deleted) == ("resolved", d.document, False)


def test_the_mutation_override_beats_the_collection_strategy():
    by_policy = decide(request(BASE, MINE, THEIRS, **{"strategy": None}, fallback="server_wins"))
    assert (by_policy.strategy, by_policy.requested) == ("server_wins", "server_wins")
    raw = request(BASE, MINE, THEIRS).model_dump()
    raw["policy"]["strategy"] = "client_wins"
    d = decide(ResolveRequest.model_validate(raw))
    assert d.strategy == "client_wins"
    raw["mutation"]["strategy"] = "server_wins"
    assert decide(ResolveRequest.model_validate(raw)).strategy == "server_wins"


def test_field_rules_decide_their_paths_and_the_fallback_the_rest():
    base = {"views": 10, "tags": ["a"], "title": "a"}
    mine = {"views": 12, "tags": ["a", "m"], "title": "mine"}
    theirs = {"views": 15, "tags": ["a", "t"], "title": "theirs"}
    d = decide(
        request(
            base,
            mine,
            theirs,
            strategy="merge",
            fallback="client_wins",
            field_rules={"views": "max", "tags": "union"},
        )
    )
    assert d.document == {"views": 15, "tags": ["a", "t", "m"], "title": "mine"}
    assert sorted(d.fields) == ["tags", "title", "views"]
    assert d.sources == {"views": "max", "tags": "union", "title": "mine"}
    low = decide(request(base, mine, theirs, strategy="merge", field_rules={"views": "min"}))
    assert low.document is not None
    assert low.document["views"] == 12


def test_a_change_that_loses_entirely_is_rejected():
    d = decide(request(BASE, {**BASE, "title": "mine"}, THEIRS, strategy="server_wins"))
    assert (d.outcome, d.fields) == ("rejected", ["title"])
    assert reply_for(d).data is None


def test_delete_against_an_update_follows_the_delete_policy():
    kw: dict[str, Any] = {"kind": "delete", "payload": {}, "strategy": "merge"}
    keep = decide(request(BASE, None, THEIRS, **kw))
    assert (keep.outcome, keep.document) == ("rejected", THEIRS)
    gone = decide(request(BASE, None, THEIRS, delete_policy="delete_wins", **kw))
    assert (gone.outcome, gone.deleted, gone.document) == ("resolved", True, None)
    assert reply_for(gone).deleted is True


@pytest.mark.parametrize(
    ("strategy", "fallback", "outcome", "decided_by"),
    [
        ("merge", "server_wins", "rejected", "server_wins"),
        ("merge", "client_wins", "resolved", "client_wins"),
        ("client_wins", "server_wins", "resolved", "client_wins"),
        ("last_writer_wins", "server_wins", "resolved", "last_writer_wins"),
        ("first_writer_wins", "server_wins", "rejected", "first_writer_wins"),
        ("merge", "manual", "manual", "manual"),
    ],
)
def test_without_a_base_the_documents_conflict_as_wholes(strategy, fallback, outcome, decided_by):
    mine = {"title": "mine", "extra": 1}
    theirs = {"title": "theirs", "other": 2}
    d = decide(request(None, mine, theirs, strategy=strategy, fallback=fallback))
    assert (d.outcome, d.strategy, d.requested) == (outcome, decided_by, strategy)
    assert d.whole_document is True
    assert d.fields == ["title", "other", "extra"]
    if outcome == "resolved":
        assert d.document == mine  # never a field-wise mix of the two
    else:
        assert d.document == theirs


def test_without_a_base_a_patch_applies_to_theirs():
    theirs = {"title": "theirs", "n": 1, "gone": True}
    patch = {"title": "mine", "gone": None}
    d = decide(
        request(
            None,
            {"title": "mine"},
            theirs,
            kind="patch",
            payload=patch,
            strategy="client_wins",
        )
    )
    assert d.document == {"title": "mine", "n": 1}
    assert d.fields == ["title", "gone"]
    assert d.sources == {"title": "mine", "gone": "mine"}


def test_without_a_base_the_same_document_is_no_conflict():
    d = decide(request(None, {"a": 1}, {"a": 1}, strategy="manual"))
    assert (d.outcome, d.document, d.fields) == ("resolved", {"a": 1}, [])


def test_manual_parks_only_what_no_rule_settles():
    parked = decide(request(BASE, MINE, THEIRS, strategy="manual"))
    assert (parked.outcome, parked.document, parked.mine) == ("manual", THEIRS, MINE)
    clean = decide(request(BASE, {**BASE, "done": True}, THEIRS, strategy="manual"))
    assert clean.outcome == "resolved"
    assert clean.document == {"title": "theirs", "done": True, "n": 2}


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"strategy": "last_writer_wins", "mine_stamp": ""}, "needs"),
        ({"strategy": "last_writer_wins", "theirs_stamp": "yesterday:bob"}, "theirs_stamp"),
        ({"strategy": "merge", "fallback": "merge"}, "fallback"),
        ({"kind": "text", "payload": {"field": "title", "ops": ["x"]}}, "sync itself"),
    ],
)
def test_bad_requests_raise_a_clear_error(changes, message):
    base = None if changes.get("fallback") == "merge" else BASE
    with pytest.raises(InvalidRequestError, match=message) as info:
        decide(request(base, MINE, THEIRS, **changes))
    assert info.value.code == "bad_request"


def test_mine_must_match_the_kind():
    with pytest.raises(InvalidRequestError, match="document"):
        decide(request(BASE, None, THEIRS))
    with pytest.raises(InvalidRequestError, match="null"):
        decide(request(BASE, MINE, THEIRS, kind="delete", payload={}))


def test_stamps_parse_with_the_colon_inside_the_clock():
    stamp = parse_stamp(f"{LATE}:cli-1", "s")
    assert stamp is not None
    assert (stamp.hlc.wall_ms, stamp.hlc.counter, stamp.client_id) == (1732290000500, 0, "cli-1")
    empty_client = parse_stamp(f"{EARLY}:", "s")  # sync sends "" when the writer is unknown
    assert empty_client is not None
    assert empty_client.client_id == ""
    assert parse_stamp("", "s") is None
    with pytest.raises(InvalidRequestError):
        parse_stamp("nocolon", "s")


def test_conflict_ids_are_deterministic_per_mutation():
    assert conflict_id_for("c1", 1) == conflict_id_for("c1", 1)
    assert len({conflict_id_for("c1", 1), conflict_id_for("c1", 2), conflict_id_for("c2", 1)}) == 3
    assert len(conflict_id_for("c1", 1)) == 32


def test_what_is_stored_and_sent_for_a_parked_conflict():
    req = request(BASE, MINE, THEIRS, strategy="manual")
    d = decide(req)
    cid = conflict_id_for("alice-phone", 7)
    conflict = parked_conflict(req, d, cid, 1000)
    assert (conflict.user_id, conflict.theirs_version, conflict.mine) == ("alice", 5, MINE)
    note = notification_for(conflict, d.fields, 1000)
    assert (note.kind, note.user_id, note.data["conflict_id"]) == ("conflict", "alice", cid)
    assert cid in (note.link or "")
    record = record_for(req, d, cid, 1000)
    assert (record.outcome, record.conflict_id, record.requested) == ("manual", cid, "manual")
    assert record_msg_id(req) == "resolution:todos:t1:alice-phone:7:5"
    assert reply_for(d, cid).conflict_id == cid
    view = explain(conflict)
    assert view["fields"] == ["title"]
    assert view["whole_document"] is False


def test_differing_fields():
    assert differing_fields({"a": 1, "b": 2}, {"a": 1, "b": 3, "c": None}) == ["b", "c"]
    assert differing_fields(None, {"a": 1}) == [""]
    assert differing_fields({"a": 1}, {"a": 1.0}) == ["a"]  # type-strict
