"""Ids never reach NATS unless safe; user ids are encoded reversibly."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from syncmesh_schema import subjects
from syncmesh_schema.channels import parse_channel
from syncmesh_schema.ids import user_from_token, user_token


@pytest.mark.parametrize("bad", ["", "a.b", "a*", "a>", "a b", "x" * 129, "é", "a/b", "a\n"])
def test_builders_reject_unsafe_tokens(bad):
    with pytest.raises(ValueError, match="must be 1-128"):
        subjects.mutation_intake("todos", bad)
    with pytest.raises(ValueError, match="must be 1-128"):
        subjects.room(bad)


def test_subject_shapes():
    assert subjects.mutation_intake("todos", "t1") == "sm.mut.todos.t1"
    assert subjects.doc_key("todos", "t1") == "doc.todos.t1"
    assert (
        subjects.kv_subject(subjects.DOCS_BUCKET, subjects.client_key("c1"))
        == "$KV.sm_docs.client.c1"
    )
    assert subjects.inbox("alice") == "sm.inbox.alice"
    assert subjects.inbox("alice@example.com").startswith("sm.inbox.=")


@given(st.text(min_size=1, max_size=200))
def test_user_token_round_trips_and_is_subject_safe(user):
    token = user_token(user)
    assert user_from_token(token) == user
    assert not set(token) & {".", "*", ">", " ", "\t", "\n", "\r"}


def test_user_tokens_do_not_collide():
    # A pass-through id can never look like an encoded one.
    assert user_token("=abc") != "=abc"
    assert user_token("abc") == "abc"


@pytest.mark.parametrize(
    ("channel", "stream", "subject"),
    [
        ("doc:todos/t1", "KV_sm_docs", "$KV.sm_docs.doc.todos.t1"),
        ("collection:todos", "KV_sm_docs", "$KV.sm_docs.doc.todos.*"),
        ("room:lobby", "SM_ROOMS", "sm.room.lobby"),
        ("presence:lobby", "SM_PRESENCE", "sm.presence.lobby"),
        ("inbox", "SM_INBOX", "sm.inbox.u1"),
    ],
)
def test_channel_sources(channel, stream, subject):
    ref = parse_channel(channel)
    assert ref.name == channel
    assert subjects.channel_source(ref, "u1") == (stream, subject)
