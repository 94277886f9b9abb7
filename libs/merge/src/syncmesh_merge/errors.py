"""Errors raised by syncmesh_merge. Every one is a `MergeError`.

```text
MergeError
├── InvalidOpError              an OT op or CRDT op is malformed
│   ├── OpOutOfRangeError       a retain/delete runs past the end of the document
│   └── DeleteMismatchError     a {"d": "text"} delete names text the document does not hold
├── InvalidDocumentError        a document is not a JSON object (or None for "no document")
├── InvalidStateError           a stored CRDT state cannot be read
├── CrdtTypeError               unknown CRDT type, or a state of another type
├── InvalidConfigError          unknown strategy, field rule, delete policy or OT side
├── MissingStampError           last/first-writer-wins or an lww rule without both stamps
└── ClockError                  malformed hybrid logical clock, or a remote clock too far ahead
```
"""

from __future__ import annotations

__all__ = [
    "ClockError",
    "CrdtTypeError",
    "DeleteMismatchError",
    "InvalidConfigError",
    "InvalidDocumentError",
    "InvalidOpError",
    "InvalidStateError",
    "MergeError",
    "MissingStampError",
    "OpOutOfRangeError",
]


class MergeError(Exception):
    """Base class of every error raised by syncmesh_merge."""


class InvalidOpError(MergeError):
    """An OT op or a CRDT op is malformed."""


class OpOutOfRangeError(InvalidOpError):
    """A retain or delete runs past the end of the document."""


class DeleteMismatchError(InvalidOpError):
    """A text-form delete ({"d": "text"}) names text the document does not hold there."""


class InvalidDocumentError(MergeError):
    """A document given to a strategy is neither a JSON object nor None."""


class InvalidStateError(MergeError):
    """A stored CRDT state is not in the format `to_json` writes."""


class CrdtTypeError(MergeError):
    """An unknown CRDT type name, or a stored state of a different type than the op's."""


class InvalidConfigError(MergeError):
    """An unknown strategy, field rule, delete policy or OT side."""


class MissingStampError(MergeError):
    """A stamp-based decision (last/first writer wins, `lww` rule, LWW register) lacks a stamp."""


class ClockError(MergeError):
    """A hybrid logical clock value is malformed, out of range or too far ahead."""
