"""Conflict strategies, the `resolve` entry point, the hybrid logical clock, suggestions."""

import json

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from syncmesh_merge import (
    FALLBACKS,
    HLC,
    STRATEGIES,
    ClockError,
    Document,
    InvalidConfigError,
    InvalidDocumentError,
    MissingStampError,
    Stamp,
    client_wins,
    first_writer_wins,
    last_writer_wins,
    manual,
    merge,
    resolve,
    server_wins,
    suggest_strategy,
)

FUZZ = settings(settings.get_profile("syncmesh-merge"), max_examples=300)

EARLY = Stamp(HLC(1_732_290_000_000, 0), "client-b")
LATE = Stamp(HLC(1_732_290_000_500, 3), "client-a")

BASE: Document = {"title": "draft", "body": "text", "views": 1, "tags": ["a"]}
OURS: Document = {"title": "mine", "body": "text", "views": 1, "tags": ["a", "b"]}
THEIRS: Document = {"title": "theirs", "body": "edited", "views": 1, "tags": ["a"]}


# --- each strategy --------------------------------------------------------------------------


def test_server_wins_keeps_theirs_on_conflict_and_ours_elsewhere() -> None:
    result = server_wins(BASE, OURS, THEIRS)
    assert result.document == {"title": "theirs", "body": "edited", "views": 1, "tags": ["a", "b"]}
    assert [c.path for c in result.conflicts] == [("title",)]
    assert result.winner == {"title": "theirs", "body": "theirs", "tags": "ours"}
    assert not result.rejected
    assert not result.needs_manual


def test_server_wins_rejects_a_mutation_whose_every_change_conflicts() -> None:
    result = server_wins({"a": 1, "b": 1}, {"a": 2, "b": 2}, {"a": 3, "b": 3})
    assert result.rejected
    assert result.document == {"a": 3, "b": 3}
    assert len(result.conflicts) == 2


def test_a_mutation_that_changes_nothing_is_not_rejected() -> None:
    result = server_wins({"a": 1}, {"a": 1}, {"a": 2})
    assert result.document == {"a": 2}
    assert not result.rejected


def test_client_wins() -> None:
    result = client_wins(BASE, OURS, THEIRS)
    assert result.document == {"title": "mine", "body": "edited", "views": 1, "tags": ["a", "b"]}
    assert result.conflicts[0].winner == "ours"
    assert result.conflicts[0].decided_by == "client_wins"


@pytest.mark.parametrize(
    ("ours_stamp", "theirs_stamp", "last", "first"),
    [(LATE, EARLY, "mine", "theirs"), (EARLY, LATE, "theirs", "mine")],
)
def test_last_and_first_writer_win_by_stamp(
    ours_stamp: Stamp, theirs_stamp: Stamp, last: str, first: str
) -> None:
    lww = last_writer_wins(BASE, OURS, THEIRS, ours_stamp=ours_stamp, theirs_stamp=theirs_stamp)
    fww = first_writer_wins(BASE, OURS, THEIRS, ours_stamp=ours_stamp, theirs_stamp=theirs_stamp)
    assert lww.document is not None
    assert fww.document is not None
    assert lww.document["title"] == last
    assert fww.document["title"] == first


def test_writer_wins_never_depends_on_argument_order() -> None:
    # The same two writes, with the roles of client and server swapped.
    one = last_writer_wins(BASE, OURS, THEIRS, ours_stamp=LATE, theirs_stamp=EARLY)
    two = last_writer_wins(BASE, THEIRS, OURS, ours_stamp=EARLY, theirs_stamp=LATE)
    assert one.document == two.document
    three = first_writer_wins(BASE, OURS, THEIRS, ours_stamp=LATE, theirs_stamp=EARLY)
    four = first_writer_wins(BASE, THEIRS, OURS, ours_stamp=EARLY, theirs_stamp=LATE)
    assert three.document == four.document


def test_equal_clocks_tie_break_on_client_id() -> None:
    clock = HLC(1_000, 7)
    result = resolve(
        "last_writer_wins",
        {"v": 0},
        {"v": 1},
        {"v": 2},
        ours_stamp=Stamp(clock, "b-client"),
        theirs_stamp=Stamp(clock, "a-client"),
    )
    assert result.document == {"v": 1}
    result = resolve(
        "first_writer_wins",
        {"v": 0},
        {"v": 1},
        {"v": 2},
        ours_stamp=Stamp(clock, "b-client"),
        theirs_stamp=Stamp(clock, "a-client"),
    )
    assert result.document == {"v": 2}


@pytest.mark.parametrize("strategy", ["last_writer_wins", "first_writer_wins"])
def test_writer_strategies_need_both_stamps(strategy: str) -> None:
    with pytest.raises(MissingStampError):
        resolve(strategy, BASE, OURS, THEIRS, ours_stamp=EARLY)
    with pytest.raises(MissingStampError):
        resolve("merge", BASE, OURS, THEIRS, fallback=strategy, theirs_stamp=EARLY)


def test_merge_uses_field_rules_then_the_fallback() -> None:
    base: Document = {"views": 10, "tags": ["a"], "title": "t", "body": "Hello"}
    ours: Document = {"views": 11, "tags": ["a", "b"], "title": "mine", "body": "Hello, you"}
    theirs: Document = {"views": 14, "tags": ["c"], "title": "theirs", "body": "Hello!"}
    rules = {"views": "max", "tags": "union", "body": "concat"}
    result = merge(base, ours, theirs, field_rules=rules)
    assert result.document == {
        "views": 14,
        "tags": ["c", "a", "b"],
        "title": "theirs",
        "body": "Hello!, you",
    }
    assert {c.path[0]: c.decided_by for c in result.conflicts} == {
        "views": "max",
        "tags": "union",
        "title": "server_wins",
        "body": "concat",
    }
    assert result.winner["views"] == "resolved"
    assert result.strategy == "merge"
    with_fallback = merge(base, ours, theirs, field_rules=rules, fallback="client_wins")
    assert with_fallback.document is not None
    assert with_fallback.document["title"] == "mine"


def test_field_rules_also_apply_under_other_strategies() -> None:
    result = client_wins({"n": 5}, {"n": 9}, {"n": 6}, field_rules={"n": "max"})
    assert result.document == {"n": 9}
    assert result.conflicts[0].decided_by == "max"
    assert not result.rejected


def test_rejected_means_the_outcome_is_exactly_theirs() -> None:
    # The max rule keeps the server's larger value: nothing of the mutation survives.
    lost = client_wins({"n": 5}, {"n": 6}, {"n": 9}, field_rules={"n": "max"})
    assert (lost.document, lost.rejected) == ({"n": 9}, True)
    # Union keeps both sides' items: the mutation survives in part.
    kept = server_wins({"t": []}, {"t": [1]}, {"t": [2]}, field_rules={"t": "union"})
    assert (kept.document, kept.rejected) == ({"t": [2, 1]}, False)
    # The client asked for what the server already has: applied, not rejected.
    same = server_wins({"n": 1}, {"n": 2}, {"n": 2})
    assert (same.document, same.rejected) == ({"n": 2}, False)


def test_manual_parks_true_conflicts_and_keeps_theirs() -> None:
    result = manual(BASE, OURS, THEIRS)
    assert result.needs_manual
    assert not result.rejected
    assert result.document == THEIRS
    assert [c.path for c in result.conflicts] == [("title",)]
    assert result.winner == {"title": "theirs", "body": "theirs"}  # what the document holds


def test_manual_parks_delete_vs_modify_too() -> None:
    result = manual({"a": 1}, None, {"a": 2})
    assert result.needs_manual
    assert result.document == {"a": 2}


def test_manual_without_true_conflicts_merges() -> None:
    result = manual({"a": 1, "b": 1}, {"a": 2, "b": 1}, {"a": 1, "b": 3})
    assert not result.needs_manual
    assert result.document == {"a": 2, "b": 3}
    assert result.conflicts == []
    settled_by_rule = manual({"n": 1}, {"n": 2}, {"n": 3}, field_rules={"n": "max"})
    assert not settled_by_rule.needs_manual
    assert settled_by_rule.document == {"n": 3}


def test_merge_with_manual_fallback_is_manual_with_rules() -> None:
    result = resolve("merge", BASE, OURS, THEIRS, fallback="manual", field_rules={"tags": "union"})
    assert result.needs_manual
    assert result.strategy == "merge"


@pytest.mark.parametrize(
    ("policy", "document", "rejected"),
    [("update_wins", {"a": 2}, True), ("delete_wins", None, False)],
)
def test_client_delete_against_a_server_edit(
    policy: str, document: Document, rejected: bool
) -> None:
    result = resolve("client_wins", {"a": 1}, None, {"a": 2}, delete_policy=policy)
    assert result.document == document
    assert result.rejected is rejected


def test_server_delete_against_a_client_edit() -> None:
    result = resolve("server_wins", {"a": 1}, {"a": 5}, None)
    assert result.document == {"a": 5}  # update wins: the edit revives the document
    result = resolve("server_wins", {"a": 1}, {"a": 5}, None, delete_policy="delete_wins")
    assert result.document is None
    assert result.rejected


def test_both_deleted_and_concurrent_creation() -> None:
    assert resolve("server_wins", {"a": 1}, None, None).document is None
    created = resolve("server_wins", None, {"a": 1, "b": 1}, {"a": 2})
    assert created.document == {"a": 2, "b": 1}
    assert created.winner == {"a": "theirs", "b": "ours"}


def test_resolution_to_json_is_plain_json() -> None:
    result = resolve("merge", {"a": 1, "d": 1}, {"a": 2}, {"a": 3, "d": 1})
    encoded = json.loads(json.dumps(result.to_json()))
    assert encoded == {
        "strategy": "merge",
        "fields": {"a": "theirs", "d": "ours"},
        "conflicts": [
            {
                "path": ["a"],
                "base": 1,
                "ours": 2,
                "theirs": 3,
                "value": 3,
                "winner": "theirs",
                "decided_by": "server_wins",
            }
        ],
        "needs_manual": False,
        "rejected": False,
    }


def test_every_strategy_name_resolves() -> None:
    assert set(STRATEGIES) == {
        "server_wins",
        "client_wins",
        "last_writer_wins",
        "first_writer_wins",
        "merge",
        "manual",
    }
    for name in STRATEGIES:
        result = resolve(name, BASE, OURS, THEIRS, ours_stamp=LATE, theirs_stamp=EARLY)
        assert result.strategy == name
    assert "merge" not in FALLBACKS


@pytest.mark.parametrize(
    ("strategy", "kwargs"),
    [
        ("newest", {}),
        ("merge", {"fallback": "merge"}),
        ("merge", {"field_rules": {"title": "longest"}}),
        ("server_wins", {"delete_policy": "never"}),
    ],
)
def test_bad_configuration(strategy: str, kwargs: dict[str, object]) -> None:
    with pytest.raises(InvalidConfigError):
        resolve(strategy, BASE, OURS, THEIRS, **kwargs)  # type: ignore[arg-type]


def test_lww_rule_requires_stamps_up_front() -> None:
    with pytest.raises(MissingStampError):
        resolve("merge", {"a": 1}, {"a": 1}, {"a": 1}, field_rules={"a": "lww"})


@pytest.mark.parametrize("bad", [[1], "doc", 3])
def test_documents_must_be_objects_or_none(bad: object) -> None:
    with pytest.raises(InvalidDocumentError):
        resolve("server_wins", {}, bad, {})  # type: ignore[arg-type]


# --- hybrid logical clock -------------------------------------------------------------------


def test_hlc_encoding() -> None:
    assert HLC(1_732_290_000_000, 1).encode() == "000001732290000000:0001"
    assert HLC.decode("000001732290000000:0001") == HLC(1_732_290_000_000, 1)
    assert str(HLC(5)) == "000000000000000005:0000"


@pytest.mark.parametrize(
    "text", ["", "1732290000000:1", "000001732290000000-0001", "00000173229000000a:0001", 5]
)
def test_hlc_decode_rejects_garbage(text: object) -> None:
    with pytest.raises(ClockError):
        HLC.decode(text)


@pytest.mark.parametrize(("wall", "counter"), [(-1, 0), (0, -1), (0, 10_000), (10**18, 0)])
def test_hlc_range(wall: int, counter: int) -> None:
    with pytest.raises(ClockError):
        HLC(wall, counter)


def test_hlc_now_and_update() -> None:
    clock = HLC(100, 0)
    assert clock.now(150) == HLC(150, 0)  # physical time moved on
    assert clock.now(90) == HLC(100, 1)  # physical clock behind: count within the ms
    assert clock.update(HLC(200, 4), 120) == HLC(200, 5)  # remote ahead
    assert clock.update(HLC(100, 4), 50) == HLC(100, 5)  # same ms: max counter + 1
    assert HLC(100, 9).update(HLC(50, 4), 80) == HLC(100, 10)  # local ahead
    assert clock.update(HLC(90, 4), 300) == HLC(300, 0)  # physical ahead of both


def test_hlc_counter_overflow_borrows_the_next_millisecond() -> None:
    assert HLC(100, 9_999).now(100) == HLC(101, 0)
    assert HLC(100, 9_999).encode() < HLC(101, 0).encode()


def test_hlc_drift_guard() -> None:
    with pytest.raises(ClockError):
        HLC(0).update(HLC(10_000), 1_000, max_drift_ms=5_000)
    assert HLC(0).update(HLC(5_000), 1_000, max_drift_ms=5_000) == HLC(5_000, 1)


clocks = st.builds(HLC, st.integers(0, 10**13), st.integers(0, 9_999))
times = st.integers(0, 10**13)


@FUZZ
@given(clocks, clocks, times)
@example(HLC(0, 0), HLC(0, 9_999), 0)  # counter overflow borrows the next millisecond
def test_hlc_properties(local: HLC, remote: HLC, physical: int) -> None:
    assert (local < remote) == (local.encode() < remote.encode())
    assert HLC.decode(local.encode()) == local
    after_send = local.now(physical)
    assert after_send > local
    assert after_send.wall_ms >= physical
    after_receive = local.update(remote, physical)
    assert after_receive > local
    assert after_receive > remote
    latest = max(local.wall_ms, remote.wall_ms, physical)
    if after_receive.wall_ms == latest + 1:
        assert after_receive.counter == 0
        assert 9_999 in (local.counter, remote.counter)
    else:
        assert after_receive.wall_ms == latest


# --- suggestions ----------------------------------------------------------------------------


def test_suggest_merge_when_changes_do_not_overlap() -> None:
    suggestion = suggest_strategy({"a": 1, "b": 1}, {"a": 2, "b": 1}, {"a": 1, "b": 2})
    assert suggestion.strategy == "merge"
    assert suggestion.paths == []


def test_suggest_counters_for_concurrent_counting() -> None:
    up = suggest_strategy({"views": 10}, {"views": 11}, {"views": 13})
    assert (up.strategy, up.crdt_type, up.paths) == ("crdt", "g_counter", ["views"])
    both_ways = suggest_strategy({"stock": 10}, {"stock": 9}, {"stock": 12})
    assert (both_ways.strategy, both_ways.crdt_type) == ("crdt", "pn_counter")


def test_suggest_manual_for_text_heavy_fields() -> None:
    long_text = "word " * 20
    suggestion = suggest_strategy(
        {"body": long_text, "n": 1}, {"body": long_text + "a", "n": 2}, {"body": "b", "n": 3}
    )
    assert suggestion.strategy == "manual"
    assert suggestion.paths == ["body"]
    multiline = suggest_strategy({"s": "a"}, {"s": "a\nb"}, {"s": "c"})
    assert multiline.strategy == "manual"


def test_suggest_lww_for_short_values() -> None:
    suggestion = suggest_strategy({"status": "open"}, {"status": "done"}, {"status": "wontfix"})
    assert suggestion.strategy == "last_writer_wins"
    floats = suggest_strategy({"x": 1.5}, {"x": 2.5}, {"x": 3.5})
    assert floats.strategy == "last_writer_wins"  # floats are measurements, not counts
    flags = suggest_strategy({"ok": 1}, {"ok": True}, {"ok": 2})
    assert flags.strategy == "last_writer_wins"  # a boolean is not a counter
