"""How an amount of US dollars is written, in every output: the terminal summary, budget
messages, baselines, ``repr``, the ``aiusage`` tables, HTML and Markdown.

The rules, kept in this one module:

- exact: an amount is never rounded, it gets as many decimals as it needs (at least two);
- within one table (or one message) every amount gets the same number of decimals, so a
  larger amount never looks smaller and right-aligned cells line up on the decimal point;
- an unknown cost (a call that could not be priced, or totals of such calls only) is written
  ``unknown``, never ``$0``; totals that are partly unknown say so after the amount.

::

    >>> usd_column([Decimal("0.000084"), Decimal("0.00004665"), None])
    ['$0.00008400', '$0.00004665', '    unknown']
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._records import UsageTotals

__all__ = [
    "UNKNOWN",
    "cost_column",
    "cost_of",
    "cost_text",
    "decimal_str",
    "decimals",
    "unknown_note",
    "usd",
    "usd_column",
    "usd_each",
]

UNKNOWN = "unknown"
"""What an unknown cost is written as."""

_MIN_PLACES = 2


def decimal_str(value: Decimal) -> str:
    """``value`` in plain notation without trailing zeros: ``0.00000015``, never ``1.5E-7``
    (the form of money in JSON, where a reader parses rather than reads it)."""
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def _places(amount: Decimal) -> int:
    exponent = amount.normalize().as_tuple().exponent
    return max(-exponent, 0) if isinstance(exponent, int) else 0


def decimals(amounts: Iterable[Decimal | None]) -> int:
    """The number of decimals that writes every amount exactly (at least two)."""
    return max(max((_places(a) for a in amounts if a is not None), default=0), _MIN_PLACES)


def usd(amount: Decimal | None, places: int | None = None, *, sign: bool = False) -> str:
    """``$0.00045`` (with ``places`` decimals, by default as many as it needs, at least two);
    ``unknown`` for ``None``; ``sign`` writes ``+$0.10`` / ``-$0.10`` (for deltas)."""
    if amount is None:
        return UNKNOWN
    places = max(decimals([amount]) if places is None else places, 0)
    text = f"${format(abs(amount), f'.{places}f')}"
    if amount < 0:
        return f"-{text}"
    return f"+{text}" if sign and amount > 0 else text


def usd_each(
    amounts: Sequence[Decimal | None], places: int | None = None, *, sign: bool = False
) -> list[str]:
    """The amounts of one sentence (``cost $0.00008715 > limit $0.00005000``): the same
    decimals (``places``, by default the fewest that write them all exactly), unpadded."""
    places = decimals(amounts) if places is None else places
    return [usd(a, places, sign=sign) for a in amounts]


def usd_column(
    amounts: Sequence[Decimal | None], places: int | None = None, *, sign: bool = False
) -> list[str]:
    """The amounts as one table column: the same decimals, right-aligned on the point."""
    texts = usd_each(amounts, places, sign=sign)
    width = max((len(t) for t in texts), default=0)
    return [t.rjust(width) for t in texts]


def cost_of(totals: UsageTotals) -> Decimal | None:
    """The cost of ``totals``, ``None`` when it made calls and none of them was priced."""
    if totals.calls and totals.unpriced_calls == totals.calls:
        return None
    return totals.cost_usd


def unknown_note(totals: UsageTotals) -> str:
    """What follows the amount of partly priced totals: `` + unknown (2 calls)``; ``""`` when
    the amount is the whole cost or is itself unknown."""
    n = totals.unpriced_calls
    if not n or n == totals.calls:
        return ""
    return f" + {UNKNOWN} ({n:,} call{'' if n == 1 else 's'})"


def cost_text(totals: UsageTotals, places: int | None = None) -> str:
    """The cost of ``totals`` in words: ``$0.0012``, ``$0.0012 + unknown (1 call)`` or
    ``unknown``."""
    return usd(cost_of(totals), places) + unknown_note(totals)


def cost_column(totals: Sequence[UsageTotals], places: int | None = None) -> list[str]:
    """The costs of ``totals`` as one table column, aligned on the point (notes about
    unknown costs follow the amount and are padded to the same width)."""
    amounts = usd_column([cost_of(t) for t in totals], places)
    texts = [a + unknown_note(t) for a, t in zip(amounts, totals, strict=True)]
    width = max((len(t) for t in texts), default=0)
    return [t.ljust(width) for t in texts]
