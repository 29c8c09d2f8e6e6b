"""Checking a receipt's total with Claude: the application's second provider."""

from __future__ import annotations

import re
from decimal import Decimal

from anthropic import Anthropic

from aiusage_core import ai_usage_tracked

from .models import Receipt

SYSTEM_PROMPT = "Read the receipt. Answer 'TOTAL <amount>' with the total printed on it."

_TOTAL = re.compile(r"TOTAL\s+(\d+\.\d{2})")


@ai_usage_tracked(operation_type="check_total")
def check_total(client: Anthropic, receipt: Receipt) -> bool:
    """Whether the model reads the receipt's printed total as the one we hold."""
    message = client.messages.create(
        model="claude-haiku-4-5",
        max_tokens=32,
        system=SYSTEM_PROMPT,
        messages=[{"role": "user", "content": receipt.as_text()}],
    )
    answer = "".join(block.text for block in message.content if block.type == "text")
    found = _TOTAL.search(answer)
    return found is not None and Decimal(found.group(1)) == receipt.total
