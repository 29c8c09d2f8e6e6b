"""Labelling receipts: one chat completion each, replayed from cassettes."""

from __future__ import annotations

from decimal import Decimal

import pytest
from receipts_app import Receipt, label_receipt

# gpt-4o-mini list prices, $ per million tokens.
INPUT, OUTPUT = Decimal("0.15"), Decimal("0.60")


@pytest.mark.vcr
@pytest.mark.ai_budget(usd=0.0001, calls=1)
def test_labels_a_grocery_receipt(openai_client, ai_usage, receipts: dict[str, Receipt]) -> None:
    label = label_receipt(openai_client, receipts["acme"], job_id="job-7")

    assert label.category == "groceries"
    ai_usage.assert_calls(1, model="gpt-4o-mini-2024-07-18")
    ai_usage.assert_propagated(job_id="job-7")
    (record,) = ai_usage.records
    assert record.context_path[-1] == "label_receipt"
    # The cost is exactly what the recorded usage says at list prices.
    expected = (record.input_tokens * INPUT + record.output_tokens * OUTPUT) / 1_000_000
    assert record.cost_usd == expected


@pytest.mark.vcr
@pytest.mark.parametrize(
    ("key", "category"), [("globex", "office"), ("initech", "travel"), ("umbrella", "restaurant")]
)
def test_labels_other_receipts(
    openai_client, ai_usage, receipts: dict[str, Receipt], key: str, category: str
) -> None:
    assert label_receipt(openai_client, receipts[key]).category == category
    ai_usage.assert_cost_below("0.0001")
