"""Composite cursors (one SSE id / long-poll cursor for many channels). Pure."""

from __future__ import annotations

from syncmesh_gateway.composite import decode_composite, encode_composite
from syncmesh_gateway.cursors import Cursor


def test_round_trip_whatever_the_channel_order() -> None:
    a, b = Cursor(1_700_000_000_000_000, 5).encode(), Cursor(1_700_000_000_000_001, 0).encode()
    text = encode_composite({"doc:c/d": a, "room:r": b})
    assert text == encode_composite({"room:r": b, "doc:c/d": a})
    assert decode_composite(text, ["room:r", "doc:c/d"]) == {"room:r": b, "doc:c/d": a}
    assert len(text) < 60


def test_channels_not_named_cannot_be_resumed() -> None:
    a = Cursor(7, 9).encode()
    text = encode_composite({"doc:c/d": a})
    assert decode_composite(text, ["doc:c/d", "inbox"]) == {"doc:c/d": a, "inbox": None}


def test_garbage_resumes_nothing() -> None:
    for garbage in ("", "garbage", "0-1", "zzzzzzzz_1-2", "0123abcd_1-2.", "x" * 5000):
        assert decode_composite(garbage, ["doc:c/d", "room:r"]) == {
            "doc:c/d": None,
            "room:r": None,
        }


def test_empty_positions() -> None:
    assert encode_composite({}) == ""
    assert decode_composite("", ["inbox"]) == {"inbox": None}
