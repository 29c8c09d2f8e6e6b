"""A runnable tour of aiusage_core: nested contexts, the decorator, a partial-failure batch.

Usage enters through ``record_usage`` here, so this runs offline with no key; with a real
client, ``wrap_openai(OpenAI())`` records the same figures from every call.
"""

from __future__ import annotations

from aiusage_core import (
    MemorySink,
    ai_usage_context,
    ai_usage_tracked,
    partial_failure_context,
    record_usage,
)


@ai_usage_tracked(operation_type="label_receipt")
def label_receipt(receipt_id: str, job_id: str) -> str:
    record_usage(model="gpt-4o-mini", input_tokens=850, cached_input_tokens=512, output_tokens=60)
    return f"receipt {receipt_id}: labelled"


def main() -> None:
    sink = MemorySink()
    with ai_usage_context("receipt_batch", sinks=[sink], team="ocr") as usage:
        for receipt_id in ("r-1", "r-2", "r-3"):
            label_receipt(receipt_id, job_id="job-123")
        with partial_failure_context("merchant_matching") as batch:
            for merchant in ("ACME", "", "Globex"):
                try:
                    if not merchant:
                        raise ValueError("empty merchant name")
                    record_usage(model="text-embedding-3-small", api="embeddings", input_tokens=12)
                    batch["success_count"] += 1
                except ValueError as exc:
                    batch["errors"].append({"item": merchant, "error": str(exc)})
                    batch["failure_count"] += 1

    totals = usage.totals
    print("AI usage report")
    print(f"  operation      {'/'.join(usage.path)}")
    print(f"  calls          {totals.calls}")
    print(f"  input tokens   {totals.input_tokens} ({totals.cached_input_tokens} cached)")
    print(f"  output tokens  {totals.output_tokens}")
    print(f"  cost           ${totals.cost_usd}")
    print(f"  batch summary  {dict(batch.tracker.metadata)['partial_failure_summary']}")
    print(f"  records in sink {len(sink)}")


if __name__ == "__main__":
    main()
