"""Channel and collection globs of PROTOCOL.md §1."""

from __future__ import annotations

import pytest

from syncmesh_schema.auth import TokenClaims


def claims(**kw):
    return TokenClaims(sub="u1", exp=2_000_000_000, **kw)


def test_missing_claims_mean_unrestricted():
    c = claims()
    assert c.may_read("doc:todos/1")
    assert c.may_read("room:x")
    assert c.may_write("anything")


@pytest.mark.parametrize(
    ("globs", "channel", "allowed"),
    [
        (["doc:todos/*"], "doc:todos/t1", True),
        (["doc:todos/*"], "doc:notes/t1", False),
        (["doc:*"], "doc:notes/t1", True),  # '*' spans '/' and ':'
        (["*"], "presence:r", True),
        (["room:a"], "room:ab", False),  # the whole name must match
        (["room:a*"], "room:ab", True),
        (["room:lobby"], "presence:lobby", True),  # presence:<r> readable when room:<r> is
        (["room:lobby"], "presence:other", False),
        ([], "inbox", True),  # inbox is always readable
        ([], "room:x", False),
    ],
)
def test_channel_globs(globs, channel, allowed):
    assert claims(channels=globs).may_read(channel) is allowed


def test_write_globs():
    c = claims(write=["todo*", "notes"])
    assert c.may_write("todos")
    assert c.may_write("notes")
    assert not c.may_write("secrets")
    assert not c.may_write("notes2")
