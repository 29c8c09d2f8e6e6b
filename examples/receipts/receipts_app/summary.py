"""A streamed summary of a day's receipts, through the Responses API."""

from __future__ import annotations

from collections.abc import Sequence

from openai import OpenAI

from aiusage_core import ai_usage_tracked

from .models import Receipt


@ai_usage_tracked(operation_type="summarise_day")
def summarise_day(client: OpenAI, receipts: Sequence[Receipt], user_id: str) -> str:
    """Stream a one-paragraph summary; usage arrives with the final event of the stream."""
    listing = "\n".join(f"{r.merchant}: {r.total}" for r in receipts)
    stream = client.responses.create(
        model="gpt-4o-mini",
        instructions="Summarise the day's spending in one sentence.",
        input=listing,
        stream=True,
    )
    parts: list[str] = []
    with stream:
        for event in stream:
            if event.type == "response.output_text.delta":
                parts.append(event.delta)
    return "".join(parts)
