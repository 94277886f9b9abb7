"""RFC 7396 JSON merge patch (the payload of a `patch` mutation)."""

from __future__ import annotations

from syncmesh_merge.values import JSON, copy_json

__all__ = ["apply_merge_patch"]


def apply_merge_patch(target: JSON, patch: JSON) -> JSON:
    """Apply `patch` to `target` as RFC 7396 says; return a new value, inputs untouched.

    An object patch merges key by key (`null` removes the key, a missing target becomes
    `{}`); any other patch replaces the target whole. A merge patch cannot set a value to
    `null`: that is why the three-way merge works on whole documents, not on patches.
    """
    if not isinstance(patch, dict):
        return copy_json(patch)
    result: dict[str, JSON] = (
        {k: copy_json(v) for k, v in target.items()} if isinstance(target, dict) else {}
    )
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = apply_merge_patch(result.get(key), value)
    return result
