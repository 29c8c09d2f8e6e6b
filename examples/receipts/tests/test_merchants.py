"""Merchant matching: one embeddings call for the name and every known merchant."""

from __future__ import annotations

import pytest
from receipts_app import KNOWN_MERCHANTS, match_merchant


@pytest.mark.vcr
@pytest.mark.ai_budget(usd=0.00001, calls=1, output_tokens=0)
def test_matches_a_merchant_with_one_embeddings_call(openai_client, ai_usage) -> None:
    merchant = match_merchant(openai_client, "ACME GROCERIES #1123")

    assert merchant in KNOWN_MERCHANTS
    (record,) = ai_usage.records
    assert record.api == "embeddings"
    assert record.model == "text-embedding-3-small"
    assert record.output_tokens == 0
    assert record.input_tokens > 0
