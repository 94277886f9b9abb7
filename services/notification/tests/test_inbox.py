"""Read-state rules (pure)."""

from __future__ import annotations

from syncmesh_notification import inbox
from syncmesh_schema.notification import InboxEntry, InboxState


def entry(i: str, seq: int, exp: int | None = None) -> InboxEntry:
    return InboxEntry(id=i, seq=seq, expires_at=exp)


def test_add_is_idempotent_and_bounded():
    st = InboxState()
    for n in range(5):
        st = inbox.add(st, entry(f"n{n}", n + 1), now=0, cap=3).state
    assert [e.id for e in st.unread] == ["n2", "n3", "n4"]
    again = inbox.add(st, entry("n4", 5), now=0, cap=3)
    assert again.state == st


def test_mark_mark_all_forget_and_expiry():
    st = InboxState(unread=[entry("a", 1), entry("b", 2, exp=100), entry("c", 3)])
    change = inbox.mark(st, ["a", "zzz"], now=50)
    assert change.read == ["a"]
    assert change.unread == 2
    assert change.state.read_total == 1
    later = inbox.mark(change.state, [], now=200)
    assert later.expired == 1
    assert later.state.expired_total == 1
    assert inbox.unread_count(change.state, 200) == 1
    gone = inbox.forget(later.state, "c", now=200)
    assert gone.read == ["c"]
    assert gone.unread == 0
    assert inbox.mark_all(st, now=0).read == ["a", "b", "c"]
