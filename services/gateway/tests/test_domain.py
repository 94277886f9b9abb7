"""Pure rules of the gateway: cursors, continuity, rate limits, the client ledger, sessions."""

from __future__ import annotations

import pytest

from syncmesh_gateway.clients import ClientLedger
from syncmesh_gateway.continuity import StreamFacts, unrecoverable_reason
from syncmesh_gateway.cursors import Cursor, decode_cursor
from syncmesh_gateway.errors import CommandError
from syncmesh_gateway.ratelimit import AbuseTracker, TokenBucket
from syncmesh_gateway.sessions import Session
from syncmesh_schema.auth import TokenClaims


@pytest.mark.parametrize(
    "cursor", [Cursor(0, 0), Cursor(1_700_000_000_123_456, 42), Cursor(7, 2**40)]
)
def test_cursors_round_trip(cursor):
    assert decode_cursor(cursor.encode()) == cursor


@pytest.mark.parametrize("text", ["", "abc", "1-", "-1", "1-2-3", "A-1", "x" * 40, "1 -2"])
def test_garbage_cursors_decode_to_none(text):
    assert decode_cursor(text) is None


def facts(**kw) -> StreamFacts:
    base = {"epoch": 9, "first_seq": 1, "last_seq": 100, "global_limits": False}
    return StreamFacts(**{**base, **kw})


def test_continuity_rules():
    ok = Cursor(9, 50)
    assert unrecoverable_reason(facts(), ok, {}) is None
    assert "reset" in unrecoverable_reason(facts(), Cursor(8, 50), {})
    assert "ahead" in unrecoverable_reason(facts(), Cursor(9, 101), {})
    # Stream-wide limits: fine while the oldest kept message is at most cursor + 1.
    assert unrecoverable_reason(facts(global_limits=True, first_seq=51), ok, {}) is None
    assert "trimmed" in unrecoverable_reason(facts(global_limits=True, first_seq=52), ok, {})
    # Without stream-wide limits first_seq says nothing about the channel.
    assert unrecoverable_reason(facts(first_seq=90), ok, {}) is None
    # Per-subject limits: only subjects at the limit matter, and only if trimmed past the cursor.
    per = facts(per_subject_limit=3, subject_counts={"a": 3, "b": 1})
    assert per.full_subjects() == ["a"]
    assert unrecoverable_reason(per, ok, {"a": 50}) is None
    assert "trimmed" in unrecoverable_reason(per, ok, {"a": 51})
    assert "trimmed" in unrecoverable_reason(per, ok, {})


def test_token_bucket_and_abuse_tracker():
    now = [0.0]
    bucket = TokenBucket(rate_per_s=2, burst=3, clock=lambda: now[0])
    assert [bucket.take() for _ in range(4)] == [True, True, True, False]
    now[0] += 0.5
    assert bucket.take()
    assert not bucket.take()
    tracker = AbuseTracker(limit=3, window_s=10, clock=lambda: now[0])
    assert not tracker.refused()
    now[0] += 11  # the first refusal leaves the window
    assert not tracker.refused()
    assert not tracker.refused()
    assert tracker.refused()


def test_client_ledger_tracks_owner_in_flight_and_last():
    ledger = ClientLedger()
    entry = ledger.claim("c1", "alice", owner=None, last=4)
    assert entry.next_expected() == 5
    entry.in_flight.update({5, 6})
    assert entry.next_expected() == 7
    ledger.settle("c1", 6, consumed=False)  # refused: not consumed
    ledger.settle("c1", 5, consumed=True)
    assert (entry.last, entry.next_expected()) == (5, 6)
    with pytest.raises(CommandError) as refused:
        ledger.claim("c1", "mallory", owner=None, last=0)
    assert refused.value.code == "forbidden"
    with pytest.raises(CommandError):
        ledger.claim("c2", "mallory", owner="alice", last=0)
    ledger.release(entry)
    assert ledger.get("c1") is None


def test_session_refresh_keeps_the_user():
    session = Session(TokenClaims(sub="alice", exp=10, channels=["room:*"]), "ws")
    session.refresh(TokenClaims(sub="alice", exp=20))
    assert session.claims.exp == 20
    with pytest.raises(CommandError) as other:
        session.refresh(TokenClaims(sub="bob", exp=30))
    assert other.value.code == "forbidden"
    narrow = Session(TokenClaims(sub="a", exp=1, channels=["room:x"]), "http")
    with pytest.raises(CommandError):
        narrow.check_read("room:y")
