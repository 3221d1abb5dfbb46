"""Measuring JSON nesting without parsing (so without recursion)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from issuance.jsondepth import MAX_JSON_DEPTH, depth_exceeds


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize("kind", [str, bytes])
def test_the_limit_is_inclusive(kind: type) -> None:
    at, over = nested(MAX_JSON_DEPTH), nested(MAX_JSON_DEPTH + 1)
    convert = (lambda t: t) if kind is str else (lambda t: t.encode())
    assert not depth_exceeds(convert(at))
    assert depth_exceeds(convert(over))


def test_thousands_of_levels_are_measured_without_recursion() -> None:
    assert depth_exceeds(b"[" * 100_000)  # cut short: still too deep


def test_brackets_in_strings_and_escaped_quotes_do_not_count() -> None:
    text = json.dumps({"a": '[[[[\\"[[[[', "b": ["{{{{"]})
    assert not depth_exceeds(text, 2)
    assert depth_exceeds(text, 1)


def test_the_scan_starts_at_a_value_and_ends_with_it() -> None:
    text = '  {"a": 1}, ' + nested(50)
    assert not depth_exceeds(text, 2)  # the first value only
    assert depth_exceeds(text, 2, start=text.index("["))
    assert not depth_exceeds('"just a string" [[[[', 1)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(alphabet='[]{}"\\ab'),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=20,
)


def depth_of(value: object) -> int:
    if isinstance(value, list):
        return 1 + max((depth_of(v) for v in value), default=0)
    if isinstance(value, dict):
        return 1 + max((depth_of(v) for v in value.values()), default=0)
    return 0


@given(json_values, st.integers(min_value=0, max_value=6))
def test_agrees_with_the_parsed_depth(value: object, limit: int) -> None:
    assert depth_exceeds(json.dumps(value), limit) == (depth_of(value) > limit)
