"""A streamed Responses call: usage arrives with the last event, and is counted."""

from __future__ import annotations

import pytest
from receipts_app import Receipt, summarise_day


@pytest.mark.vcr
@pytest.mark.ai_budget(usd=0.0001, calls=1)
def test_streamed_summary_is_counted(openai_client, ai_usage, receipts: dict[str, Receipt]) -> None:
    day = [receipts["acme"], receipts["umbrella"]]
    text = summarise_day(openai_client, day, user_id="u-42")

    assert text
    (record,) = ai_usage.records
    assert record.api == "responses"
    assert record.usage_status == "reported"  # not "missing": the stream reported its usage
    assert record.output_tokens > 0
    ai_usage.assert_propagated(user_id="u-42")
