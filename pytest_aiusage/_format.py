"""How token counts and calls are written in messages and in the terminal report (money is
written by :mod:`aiusage_core._money`, the one formatter of every output).

One module so a budget failure, an assertion helper and the summary describe the same calls
with the same words.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from aiusage_core import ConfigurationError, UsageRecord, UsageTotals
from aiusage_core._money import cost_text, decimal_str, decimals

__all__ = [
    "PROPAGATION_HINT",
    "by_model",
    "calls_summary",
    "count",
    "plural",
    "totals_from_dict",
    "totals_to_dict",
    "unpropagated_text",
]


def count(value: int) -> str:
    """``1,000``."""
    return f"{value:,}"


def plural(n: int, word: str) -> str:
    """``1 call``, ``2 calls``."""
    return f"{count(n)} {word}{'' if n == 1 else 's'}"


def by_model(records: Iterable[UsageRecord]) -> dict[str, UsageTotals]:
    """Totals per model, models in alphabetical order."""
    grouped: dict[str, list[UsageRecord]] = {}
    for record in records:
        grouped.setdefault(record.model, []).append(record)
    return {model: UsageTotals.of(grouped[model]) for model in sorted(grouped)}


def calls_summary(models: Mapping[str, UsageTotals]) -> str:
    """``2 calls: gpt-4o ×1 1,000 in / 500 out $0.00450; gpt-4o-mini ×1 10 in / 5 out
    unknown`` (every amount with the same decimals); ``no calls`` when empty."""
    calls = sum(t.calls for t in models.values())
    if not calls:
        return "no calls"
    places = decimals(t.cost_usd for t in models.values())
    parts = "; ".join(
        f"{model}{f' ×{count(t.calls)}' if t.calls != 1 else ''} {count(t.input_tokens)} in / "
        f"{count(t.output_tokens)} out {cost_text(t, places)}"
        for model, t in models.items()
    )
    return f"{plural(calls, 'call')}: {parts}"


def totals_to_dict(totals: UsageTotals) -> dict[str, Any]:
    """``UsageTotals`` as JSON, the cost as a plain decimal string (never exponent notation)."""
    data = totals.to_dict()
    data["cost_usd"] = decimal_str(totals.cost_usd)
    return data


def totals_from_dict(data: Mapping[str, Any]) -> UsageTotals:
    """Rebuild :class:`~aiusage_core.UsageTotals` from its JSON form."""
    try:
        cost = Decimal(str(data.get("cost_usd", "0")))
    except InvalidOperation:
        raise ConfigurationError(
            f"cost_usd={data.get('cost_usd')!r} is not a decimal number",
            name="cost_usd",
            value=data.get("cost_usd"),
        ) from None
    return dataclasses.replace(UsageTotals.from_dict({**data, "cost_usd": 0}), cost_usd=cost)


PROPAGATION_HINT = (
    "start threads with aiusage_core.propagate(fn) or use ContextThreadPoolExecutor, so "
    "their calls carry the context they were started in"
)
"""The fix for calls that reach a test without context propagation."""


def unpropagated_text(threads: Mapping[str, int]) -> str:
    """``2 AI calls reached the test without context propagation, from threads worker-1 (1),
    worker-2 (1)``."""
    calls = sum(threads.values())
    names = ", ".join(f"{name} ({count(n)})" for name, n in sorted(threads.items()))
    return (
        f"{plural(calls, 'AI call')} reached the test without context propagation, from "
        f"{'thread' if len(threads) == 1 else 'threads'} {names}"
    )
