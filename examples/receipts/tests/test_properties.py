"""Property tests with pytest-aiusage's hypothesis strategies, against the local fake server."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from receipts_app import Receipt, label_receipt
from receipts_app.labeler import CATEGORIES, _category

from aiusage_core import ai_usage_context
from pytest_aiusage.strategies import metadata


@given(text=st.text())
def test_any_answer_maps_to_a_known_category(text: str) -> None:
    assert _category(text) in CATEGORIES


@pytest.mark.fake_openai
@pytest.mark.ai_budget(calls=5)
@settings(max_examples=5, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(meta=metadata(max_depth=1))
def test_every_call_carries_the_metadata_of_its_context(
    openai_client, receipts: dict[str, Receipt], meta: dict[str, Any]
) -> None:
    with ai_usage_context("labelling", **meta) as ctx:
        label_receipt(openai_client, receipts["acme"])
    (record,) = ctx.records
    for key, value in meta.items():
        if not isinstance(value, dict):
            assert record.metadata[key] == (tuple(value) if isinstance(value, list) else value)
