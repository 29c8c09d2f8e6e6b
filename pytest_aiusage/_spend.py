"""What spent a test's money: its calls grouped by operation and model, and the calls one by
one, as budget failures, the verbose summary and the reports show them.

An *operation* is the path of usage contexts a call was made in, below the test's own
context (``"label_receipt/merchant"``); ``""`` is the test's own context, shown as
``(test)``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from aiusage_core import UsageRecord, UsageTotals
from aiusage_core._money import cost_column, cost_of, decimal_str, usd

from ._format import count, plural, totals_from_dict, totals_to_dict

__all__ = [
    "Call",
    "Spend",
    "by_operation",
    "calls_of",
    "operation_label",
    "spend_lines",
    "spend_of",
]

OWN = "(test)"
"""How the test's own context is named where an operation is shown."""


def operation_of(record: UsageRecord) -> str:
    """The record's operation: its context path below the root context, ``/``-joined."""
    return "/".join(record.context_path[1:])


def operation_label(operation: str) -> str:
    """``operation``, or ``(test)`` for the test's own context."""
    return operation or OWN


def _biggest_first(totals: UsageTotals) -> tuple[int, Decimal, int]:
    # Known costs first, biggest first; unknown ones after them, most tokens first.
    cost = cost_of(totals)
    return (1 if cost is None else 0, -(cost or Decimal(0)), -totals.total_tokens)


@dataclass(frozen=True, slots=True)
class Spend:
    """The calls of one operation to one model, summed."""

    operation: str
    """The operation (see the module docstring)."""
    model: str
    """The model."""
    totals: UsageTotals
    """Sums over those calls."""

    def to_dict(self) -> dict[str, Any]:
        """The JSON form: ``operation``, ``model`` and the totals' fields."""
        return {"operation": self.operation, "model": self.model, **totals_to_dict(self.totals)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Spend:
        """Rebuild from :meth:`to_dict` output."""
        return cls(str(data["operation"]), str(data["model"]), totals_from_dict(data))


def spend_of(records: Iterable[UsageRecord]) -> tuple[Spend, ...]:
    """``records`` grouped by operation and model, biggest cost first."""
    grouped: dict[tuple[str, str], list[UsageRecord]] = {}
    for record in records:
        grouped.setdefault((operation_of(record), record.model), []).append(record)
    spend = [Spend(op, model, UsageTotals.of(rs)) for (op, model), rs in grouped.items()]
    spend.sort(key=lambda s: (*_biggest_first(s.totals), s.operation, s.model))
    return tuple(spend)


def by_operation(spend: Iterable[Spend]) -> dict[str, UsageTotals]:
    """Totals per operation, biggest cost first."""
    merged: dict[str, UsageTotals] = {}
    for s in spend:
        merged[s.operation] = merged[s.operation] + s.totals if s.operation in merged else s.totals
    return dict(sorted(merged.items(), key=lambda kv: (*_biggest_first(kv[1]), kv[0])))


@dataclass(frozen=True, slots=True, kw_only=True)
class Call:
    """One call of a test, as the reports list it."""

    number: int
    """Its place among the test's calls, from 1."""
    timestamp: str
    """When it was recorded, ISO 8601 in UTC."""
    operation: str
    """Its operation (see the module docstring)."""
    model: str
    """The model that served it."""
    input_tokens: int
    """Input tokens, cached ones included."""
    output_tokens: int
    """Output tokens, reasoning ones included."""
    cost_usd: Decimal | None
    """Its cost, ``None`` when unknown."""
    request_id: str | None
    """The provider's request id, when known."""
    usage_status: str
    """``reported``, ``missing`` (the provider reported no usage) or ``manual``."""

    @property
    def total_tokens(self) -> int:
        """Input plus output tokens."""
        return self.input_tokens + self.output_tokens

    @classmethod
    def of(cls, number: int, record: UsageRecord) -> Call:
        """The call ``record`` describes, numbered ``number``."""
        return cls(
            number=number,
            timestamp=record.timestamp.isoformat(),
            operation=operation_of(record),
            model=record.model,
            input_tokens=record.input_tokens,
            output_tokens=record.output_tokens,
            cost_usd=record.cost_usd,
            request_id=record.request_id,
            usage_status=record.usage_status,
        )

    def describe(self, places: int | None = None) -> str:
        """``call 3 at 12:00:01, label_receipt, gpt-4o-mini, 100 in / 10 out, $0.00002000,
        request req_1``."""
        request = f", request {self.request_id}" if self.request_id else ""
        return (
            f"call {self.number} at {self.timestamp[11:23] or self.timestamp}, "
            f"{operation_label(self.operation)}, {self.model}, {count(self.input_tokens)} in / "
            f"{count(self.output_tokens)} out, {usd(self.cost_usd, places)}{request}"
        )

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (``cost_usd`` a decimal string or ``null``)."""
        return {
            "number": self.number,
            "timestamp": self.timestamp,
            "operation": self.operation,
            "model": self.model,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "total_tokens": self.total_tokens,
            "cost_usd": None if self.cost_usd is None else decimal_str(self.cost_usd),
            "request_id": self.request_id,
            "usage_status": self.usage_status,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Call:
        """Rebuild from :meth:`to_dict` output."""
        cost = data.get("cost_usd")
        return cls(
            number=int(data["number"]),
            timestamp=str(data["timestamp"]),
            operation=str(data["operation"]),
            model=str(data["model"]),
            input_tokens=int(data["input_tokens"]),
            output_tokens=int(data["output_tokens"]),
            cost_usd=None if cost is None else Decimal(str(cost)),
            request_id=data.get("request_id"),
            usage_status=str(data.get("usage_status", "reported")),
        )


def calls_of(records: Iterable[UsageRecord]) -> tuple[Call, ...]:
    """``records`` as numbered calls, in order."""
    return tuple(Call.of(i, r) for i, r in enumerate(records, start=1))


def spend_lines(
    spend: Sequence[Spend],
    *,
    indent: str = "  ",
    marks: Mapping[tuple[str, str], str] | None = None,
    places: int | None = None,
) -> list[str]:
    """``spend`` as aligned lines (cost, calls, tokens, operation, model), every amount with
    the same decimals (``places``, by default the fewest that write them all exactly);
    ``marks`` adds a note after the row of ``(operation, model)``."""
    costs = cost_column([s.totals for s in spend], places)
    ops = [operation_label(s.operation) for s in spend]
    width = max((len(o) for o in ops), default=0)
    lines = []
    for cost, op, s in zip(costs, ops, spend, strict=True):
        mark = (marks or {}).get((s.operation, s.model))
        line = (
            f"{indent}{cost}  {plural(s.totals.calls, 'call'):>9}  "
            f"{count(s.totals.input_tokens):>8} in  {count(s.totals.output_tokens):>8} out  "
            f"{op.ljust(width)}  {s.model}"
        )
        lines.append(f"{line}  <- {mark}" if mark else line)
    return lines
