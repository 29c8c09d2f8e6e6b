"""The metadata merge laws, over the public ``pytest_aiusage.strategies.metadata()``."""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from typing import Any

from hypothesis import given

from aiusage_core import ai_usage_context, merge_metadata, record_usage
from pytest_aiusage.strategies import metadata

# The environment tags the suite's autouse fixture configures (tests/conftest.py).
ENVIRONMENT = {"environment": "test", "ci": False}


def plain(value: Any) -> Any:
    """Read-only metadata (mapping proxies, tuples) as plain JSON values (dicts, lists)."""
    if isinstance(value, Mapping):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


@given(metadata(), metadata(), metadata())
def test_merge_is_associative(a: dict[str, Any], b: dict[str, Any], c: dict[str, Any]) -> None:
    assert merge_metadata(merge_metadata(a, b), c) == merge_metadata(a, merge_metadata(b, c))


@given(metadata())
def test_the_empty_mapping_is_a_left_and_right_identity(a: dict[str, Any]) -> None:
    assert merge_metadata(a, {}) == a
    assert merge_metadata({}, a) == a


@given(metadata())
def test_merging_a_mapping_with_itself_changes_nothing(a: dict[str, Any]) -> None:
    assert merge_metadata(a, a) == a


@given(metadata(), metadata())
def test_inner_keys_win_and_mappings_merge_recursively(
    outer: dict[str, Any], inner: dict[str, Any]
) -> None:
    merged = merge_metadata(outer, inner)
    assert merged.keys() == outer.keys() | inner.keys()
    for key, value in inner.items():
        if isinstance(value, dict) and isinstance(outer.get(key), dict):
            assert merged[key] == merge_metadata(outer[key], value)
        else:
            assert merged[key] == value
    for key in outer.keys() - inner.keys():
        assert merged[key] == outer[key]


@given(metadata(), metadata())
def test_merge_never_mutates_its_inputs(a: dict[str, Any], b: dict[str, Any]) -> None:
    a_before, b_before = copy.deepcopy(a), copy.deepcopy(b)
    merged = merge_metadata(a, b)
    assert a == a_before
    assert b == b_before
    # Nor does the result share mutable mappings with the inputs at the top level.
    assert merged is not a
    assert merged is not b


@given(metadata(), metadata())
def test_merge_result_round_trips_through_json(a: dict[str, Any], b: dict[str, Any]) -> None:
    merged = merge_metadata(a, b)
    assert json.loads(json.dumps(merged)) == merged


@given(metadata(), metadata(), metadata())
def test_nested_contexts_and_calls_layer_metadata_by_the_merge_rule(
    outer: dict[str, Any], inner: dict[str, Any], call: dict[str, Any]
) -> None:
    with ai_usage_context("outer", **outer), ai_usage_context("inner", **inner) as ctx:
        record = record_usage(model="gpt-4o-mini", input_tokens=1, metadata=call)
    context_layers = merge_metadata(merge_metadata(ENVIRONMENT, outer), inner)
    assert plain(ctx.metadata) == plain(context_layers)
    assert plain(record.metadata) == plain(merge_metadata(context_layers, call))
    assert json.loads(json.dumps(plain(record.metadata))) == plain(record.metadata)
