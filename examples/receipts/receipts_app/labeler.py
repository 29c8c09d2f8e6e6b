"""Labelling a receipt with a chat completion."""

from __future__ import annotations

from dataclasses import dataclass

from openai import OpenAI

from aiusage_core import ai_usage_tracked

from .models import Receipt

CATEGORIES = ("groceries", "restaurant", "travel", "office", "other")

SYSTEM_PROMPT = (
    "You label receipts. Answer with one word, the category, chosen from: "
    + ", ".join(CATEGORIES)
    + "."
)


@dataclass(frozen=True)
class Label:
    """The category the model chose for a receipt."""

    receipt_id: str
    category: str


def _category(answer: str) -> str:
    words = answer.lower().replace(":", " ").replace(".", " ").split()
    return next((w for w in words if w in CATEGORIES), "other")


@ai_usage_tracked(operation_type="label_receipt")
def label_receipt(client: OpenAI, receipt: Receipt, job_id: str | None = None) -> Label:
    """Ask the model for the receipt's category (``job_id`` is tracked as metadata)."""
    reply = client.chat.completions.create(
        model="gpt-4o-mini",
        temperature=0,
        messages=[
            {"role": "system", "content": SYSTEM_PROMPT},
            {"role": "user", "content": receipt.as_text()},
        ],
    )
    return Label(receipt.receipt_id, _category(reply.choices[0].message.content or ""))
