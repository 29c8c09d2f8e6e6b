"""The metadata merge rule and its laws, validation, and environment auto-tags."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aiusage_core import (
    MetadataError,
    ai_usage_context,
    configure,
    environment_tags,
    merge_metadata,
    record_usage,
)

_keys = st.sampled_from(["job_id", "team", "tags", "env", "a", "b", "nested"])
_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.text(max_size=8)
    | st.floats(allow_nan=False, allow_infinity=False)
)
# Any key may hold a mapping in one draw and a plain value in another.
metadata = st.recursive(
    st.dictionaries(_keys, _scalars, max_size=4),
    lambda children: st.dictionaries(_keys, children | _scalars, max_size=4),
    max_leaves=12,
)
# Each key keeps one kind: "tags" and "nested" always hold mappings, the others never.
_plain_keys = st.sampled_from(["job_id", "team", "env", "a", "b"])
consistent_metadata = st.recursive(
    st.dictionaries(_plain_keys, _scalars, max_size=4),
    lambda children: st.builds(
        lambda plain, nested: {**plain, **nested},
        st.dictionaries(_plain_keys, _scalars, max_size=4),
        st.dictionaries(st.sampled_from(["tags", "nested"]), children, max_size=2),
    ),
    max_leaves=12,
)


@given(consistent_metadata, consistent_metadata, consistent_metadata)
def test_merge_is_associative_when_each_key_keeps_one_kind(
    a: dict[str, Any], b: dict[str, Any], c: dict[str, Any]
) -> None:
    assert merge_metadata(merge_metadata(a, b), c) == merge_metadata(a, merge_metadata(b, c))


def test_a_plain_value_between_two_mappings_follows_the_nesting_order() -> None:
    # "Inner keys win" and associativity cannot both hold here (see docs/concepts.md):
    # contexts merge outer to inner, so the plain value erases what the outer mapping had.
    outer, middle, inner = {"team": {"lead": "ana"}}, {"team": None}, {"team": {"size": 3}}
    assert merge_metadata(merge_metadata(outer, middle), inner) == {"team": {"size": 3}}
    with (
        ai_usage_context("outer", **outer),
        ai_usage_context("middle", **middle),
        ai_usage_context("inner", **inner) as ctx,
    ):
        assert dict(ctx.metadata["team"]) == {"size": 3}


@given(metadata)
def test_empty_mapping_is_the_identity(a: dict[str, Any]) -> None:
    assert merge_metadata(a, {}) == a
    assert merge_metadata({}, a) == a


@given(metadata, metadata)
def test_inner_keys_win_and_inputs_are_not_mutated(a: dict[str, Any], b: dict[str, Any]) -> None:
    a_before, b_before = copy.deepcopy(a), copy.deepcopy(b)
    merged = merge_metadata(a, b)
    assert a == a_before
    assert b == b_before
    for key, value in b.items():
        if not (isinstance(value, dict) and isinstance(a.get(key), dict)):
            assert merged[key] == value
    for key in a.keys() - b.keys():
        assert merged[key] == a[key]


@given(metadata, metadata)
def test_merge_result_round_trips_through_json(a: dict[str, Any], b: dict[str, Any]) -> None:
    merged = merge_metadata(a, b)
    assert json.loads(json.dumps(merged)) == merged


def test_mappings_merge_recursively_other_values_are_replaced() -> None:
    outer = {"tags": {"a": 1, "b": 2}, "items": [1, 2], "team": "ocr"}
    inner = {"tags": {"b": 3}, "items": [3]}
    assert merge_metadata(outer, inner) == {"tags": {"a": 1, "b": 3}, "items": [3], "team": "ocr"}


def test_layers_environment_outer_inner_call() -> None:
    with (
        configure(environment={"environment": "prod", "ci": False, "team": "env"}),
        ai_usage_context("outer", team="outer", job_id="j-1", tags={"x": 1}),
        ai_usage_context("inner", team="inner", tags={"y": 2}) as inner,
    ):
        record = record_usage(model="gpt-4o-mini", metadata={"team": "call"})
        inner_metadata = dict(inner.metadata)
    assert inner_metadata == {
        "environment": "prod",
        "ci": False,
        "team": "inner",
        "job_id": "j-1",
        "tags": {"x": 1, "y": 2},
    }
    assert record.metadata["team"] == "call"
    assert record.metadata["environment"] == "prod"
    assert dict(record.metadata["tags"]) == {"x": 1, "y": 2}


def test_add_metadata_reaches_later_records_and_descendants() -> None:
    with ai_usage_context("outer") as outer, ai_usage_context("inner") as inner:
        first = record_usage(model="gpt-4o-mini")
        outer.add_metadata(stage="two")
        second = record_usage(model="gpt-4o-mini")
    assert "stage" not in first.metadata
    assert second.metadata["stage"] == "two"
    assert inner.metadata["stage"] == "two"


def test_context_metadata_is_read_only() -> None:
    with ai_usage_context("ro", a=1) as ctx, pytest.raises(TypeError):
        ctx.metadata["a"] = 2  # type: ignore[index]


@pytest.mark.parametrize(
    ("metadata", "key"),
    [
        ({"when": object()}, "when"),
        ({"job": {"started": {1, 2}}}, "job.started"),
        ({"scores": [1.0, float("nan")]}, "scores[1]"),
        ({"job": {3: "x"}}, "job.3"),
    ],
)
def test_non_json_metadata_is_rejected_naming_the_key_and_source(
    metadata: dict[str, Any], key: str
) -> None:
    with pytest.raises(MetadataError) as raised:
        ai_usage_context("receipt_batch", **metadata)
    assert raised.value.key == key
    assert raised.value.source == "context 'receipt_batch'"
    assert repr(key) in str(raised.value) or key.split(".")[-1] in str(raised.value)


def test_record_usage_metadata_must_be_a_mapping() -> None:
    with pytest.raises(MetadataError, match="must be a mapping"):
        record_usage(model="m", metadata=["not", "a", "mapping"])  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, {"environment": "development", "ci": False}),
        ({"CI": "true"}, {"environment": "ci", "ci": True}),
        ({"CI": "false"}, {"environment": "development", "ci": False}),
        ({"CI": "1", "AIUSAGE_ENVIRONMENT": "staging"}, {"environment": "staging", "ci": True}),
        ({"APP_ENV": "production"}, {"environment": "production", "ci": False}),
        ({"AIUSAGE_ENVIRONMENT": "qa", "ENVIRONMENT": "prod"}, {"environment": "qa", "ci": False}),
    ],
)
def test_environment_tags(environ: dict[str, str], expected: dict[str, Any]) -> None:
    assert environment_tags(environ) == expected
