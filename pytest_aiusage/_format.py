"""How money, token counts and calls are written in messages and in the terminal report.

One module so a budget failure, an assertion helper and the summary describe the same calls
with the same words.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal

from aiusage_core import UsageRecord, UsageTotals

__all__ = [
    "by_model",
    "calls_summary",
    "count",
    "decimal_str",
    "model_figures",
    "money",
    "plural",
    "totals_figures",
]


def decimal_str(value: Decimal) -> str:
    """``value`` in plain notation without trailing zeros: ``0.00000015``, never ``1.5E-7``."""
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def money(value: Decimal) -> str:
    """``$0.00045``."""
    return f"${decimal_str(value)}"


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


def _cost(totals: UsageTotals) -> str:
    if totals.unpriced_calls == totals.calls:
        return "unpriced"
    if totals.unpriced_calls:
        return f"{money(totals.cost_usd)} + {totals.unpriced_calls} unpriced"
    return money(totals.cost_usd)


def totals_figures(totals: UsageTotals) -> str:
    """``1,000 in / 500 out $0.00045`` (or ``unpriced``)."""
    return f"{count(totals.input_tokens)} in / {count(totals.output_tokens)} out {_cost(totals)}"


def model_figures(model: str, totals: UsageTotals) -> str:
    """``gpt-4o-mini 1,000 in / 500 out $0.00045``; ``×2`` after the model for 2 calls."""
    times = f" ×{count(totals.calls)}" if totals.calls != 1 else ""
    return f"{model}{times} {totals_figures(totals)}"


def calls_summary(models: Mapping[str, UsageTotals]) -> str:
    """``1 call: gpt-4o-mini 1,000 in / 500 out $0.00045``; ``no calls`` when empty."""
    calls = sum(t.calls for t in models.values())
    if not calls:
        return "no calls"
    parts = "; ".join(model_figures(model, totals) for model, totals in models.items())
    return f"{plural(calls, 'call')}: {parts}"
