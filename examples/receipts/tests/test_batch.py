"""A batch in worker threads: every call lands on the batch, failures are counted."""

from __future__ import annotations

import pytest
from receipts_app import Receipt, process_batch


@pytest.mark.vcr
@pytest.mark.ai_budget(usd=0.0005, calls=4)
def test_batch_labels_valid_receipts_and_counts_the_invalid_one(
    openai_client, ai_usage, receipts: dict[str, Receipt]
) -> None:
    batch = [receipts[k] for k in ("acme", "globex", "empty", "initech")]
    result = process_batch(openai_client, batch, job_id="job-2026-11", workers=2)

    assert sorted(label.category for label in result.labels) == ["groceries", "office", "travel"]
    assert result.summary["total"] == 4
    assert result.summary["successful"] == 3
    assert result.summary["failed"] == 1
    assert result.summary["errors"][0]["item"] == "r-5"
    # All three calls ran in worker threads, yet each one carries the batch's job id.
    ai_usage.assert_calls(3)
    ai_usage.assert_propagated(job_id="job-2026-11")
    assert {r.context_path[-2:] for r in ai_usage.records} == {("receipt_batch", "label_receipt")}
