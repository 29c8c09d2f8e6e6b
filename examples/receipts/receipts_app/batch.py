"""Processing a batch of receipts in threads, counting what failed."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from openai import OpenAI

from aiusage_core import ContextThreadPoolExecutor, partial_failure_context

from .labeler import Label, label_receipt
from .models import Receipt


@dataclass(frozen=True)
class BatchResult:
    """What a batch produced, and its partial-failure summary."""

    labels: tuple[Label, ...]
    summary: dict[str, object]


def _check(receipt: Receipt) -> Receipt:
    if not receipt.lines:
        raise ValueError(f"receipt {receipt.receipt_id} has no lines")
    return receipt


def process_batch(
    client: OpenAI, receipts: Sequence[Receipt], job_id: str, workers: int = 2
) -> BatchResult:
    """Label every valid receipt in ``workers`` threads; invalid ones are counted as failures.

    The threads run in the batch's usage context (``ContextThreadPoolExecutor``), so every
    call lands on it.
    """
    labels: list[Label] = []
    with partial_failure_context("receipt_batch", job_id=job_id) as batch:
        valid: list[Receipt] = []
        for receipt in receipts:
            try:
                valid.append(_check(receipt))
            except ValueError as exc:
                batch.record_failure(exc, item=receipt.receipt_id)
        with ContextThreadPoolExecutor(max_workers=workers) as pool:
            futures = [
                (receipt, pool.submit(label_receipt, client, receipt, job_id=job_id))
                for receipt in valid
            ]
            for receipt, future in futures:
                with batch.attempt(item=receipt.receipt_id):
                    labels.append(future.result())
    summary = dict(batch.tracker.metadata["partial_failure_summary"])
    return BatchResult(tuple(labels), summary)
