"""RFC 7396 JSON merge patch."""

import copy
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from syncmesh_merge import JSON, apply_merge_patch

FUZZ = settings(settings.get_profile("syncmesh-merge"), max_examples=300)

# RFC 7396 Appendix A, every row.
APPENDIX_A = [
    ('{"a":"b"}', '{"a":"c"}', '{"a":"c"}'),
    ('{"a":"b"}', '{"b":"c"}', '{"a":"b","b":"c"}'),
    ('{"a":"b"}', '{"a":null}', "{}"),
    ('{"a":"b","b":"c"}', '{"a":null}', '{"b":"c"}'),
    ('{"a":["b"]}', '{"a":"c"}', '{"a":"c"}'),
    ('{"a":"c"}', '{"a":["b"]}', '{"a":["b"]}'),
    ('{"a":{"b":"c"}}', '{"a":{"b":"d","c":null}}', '{"a":{"b":"d"}}'),
    ('{"a":[{"b":"c"}]}', '{"a":[1]}', '{"a":[1]}'),
    ('["a","b"]', '["c","d"]', '["c","d"]'),
    ('{"a":"b"}', '["c"]', '["c"]'),
    ('{"a":"foo"}', "null", "null"),
    ('{"a":"foo"}', '"bar"', '"bar"'),
    ('{"e":null}', '{"a":1}', '{"e":null,"a":1}'),
    ("[1,2]", '{"a":"b","c":null}', '{"a":"b"}'),
    ("{}", '{"a":{"bb":{"ccc":null}}}', '{"a":{"bb":{}}}'),
]


@pytest.mark.parametrize(("original", "patch", "result"), APPENDIX_A)
def test_rfc7396_appendix_a(original: str, patch: str, result: str) -> None:
    assert apply_merge_patch(json.loads(original), json.loads(patch)) == json.loads(result)


def test_rfc7396_section_3_example() -> None:
    target: JSON = {
        "title": "Goodbye!",
        "author": {"givenName": "John", "familyName": "Doe"},
        "tags": ["example", "sample"],
        "content": "This will be unchanged",
    }
    patch: JSON = {
        "title": "Hello!",
        "phoneNumber": "+01-123-456-7890",
        "author": {"familyName": None},
        "tags": ["example"],
    }
    assert apply_merge_patch(target, patch) == {
        "title": "Hello!",
        "author": {"givenName": "John"},
        "tags": ["example"],
        "content": "This will be unchanged",
        "phoneNumber": "+01-123-456-7890",
    }


def test_inputs_are_never_mutated_or_shared() -> None:
    target: JSON = {"a": {"b": [1, 2]}, "keep": {"x": 1}}
    patch: JSON = {"a": {"c": [3]}, "new": {"d": [4]}}
    target_before, patch_before = copy.deepcopy(target), copy.deepcopy(patch)
    result = apply_merge_patch(target, patch)
    assert target == target_before
    assert patch == patch_before
    assert isinstance(result, dict)
    keep, new = result["keep"], result["new"]
    assert isinstance(keep, dict)
    assert isinstance(new, dict)
    keep["x"] = 99
    assert isinstance(new["d"], list)
    new["d"].append(5)
    assert target == target_before
    assert patch == patch_before


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.sampled_from(["", "x", "é😀"]),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.sampled_from("abc"), children, max_size=3)
    ),
    max_leaves=12,
)


@FUZZ
@given(json_values, json_values)
def test_merge_patch_is_idempotent(target: JSON, patch: JSON) -> None:
    once = apply_merge_patch(target, patch)
    assert apply_merge_patch(once, patch) == once


@FUZZ
@given(json_values, st.dictionaries(st.sampled_from("abc"), json_values, max_size=3))
def test_object_patch_sets_and_removes_its_keys(target: JSON, patch: dict[str, JSON]) -> None:
    result = apply_merge_patch(target, patch)
    assert isinstance(result, dict)
    for key, value in patch.items():
        if value is None:
            assert key not in result
        elif not isinstance(value, dict):
            assert result[key] == value
    if isinstance(target, dict):
        for key, value in target.items():
            if key not in patch:
                assert result[key] == value
