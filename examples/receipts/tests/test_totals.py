"""Checking totals with Claude: the suite's Anthropic calls, replayed from a cassette and
counted, priced and budgeted like the OpenAI ones."""

from __future__ import annotations

from decimal import Decimal

import pytest
from receipts_app import Receipt, check_total

# claude-haiku-4-5 list prices, $ per million tokens.
INPUT, OUTPUT = Decimal("1.00"), Decimal("5.00")


@pytest.mark.vcr
@pytest.mark.ai_budget(usd=0.001, calls=1)
def test_claude_reads_the_printed_total(
    anthropic_client, ai_usage, receipts: dict[str, Receipt]
) -> None:
    assert check_total(anthropic_client, receipts["acme"])

    ai_usage.assert_calls(1, model="claude-haiku-4-5")
    (record,) = ai_usage.records
    assert (record.provider, record.api) == ("anthropic", "messages")
    assert record.context_path[-1] == "check_total"
    # The cost is exactly what the recorded usage says at list prices.
    expected = (record.input_tokens * INPUT + record.output_tokens * OUTPUT) / 1_000_000
    assert record.cost_usd == expected
