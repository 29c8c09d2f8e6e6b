"""What a ledger query asks, shared by the SQLite and PostgreSQL readers: grouping keys,
the record selection, and the shapes results come back in. Each reader turns these into
its own SQL; :class:`~aiusage_core.Ledger` sorts and presents what they return.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from ._counts import COUNT_NAMES
from ._errors import ConfigurationError
from ._records import UsageTotals

__all__ = [
    "BUILTIN_KEYS",
    "GroupRows",
    "Key",
    "Selection",
    "alternatives",
    "parse_key",
    "record_dict",
    "totals_from_row",
    "totals_sql",
]

BUILTIN_KEYS = (
    "model",
    "provider",
    "api",
    "operation_type",
    "path",
    "day",
    "month",
    "service_tier",
    "usage_status",
    "batch",
    "error",
)
"""Grouping keys that are record fields (``day`` and ``month`` are UTC). Any other key is a
metadata key; ``metadata.KEY`` names a metadata key that shadows a built-in one."""


@dataclass(frozen=True)
class Key:
    """A grouping (or ``where``) key: a record field or a metadata key, never both."""

    field: str | None
    """One of :data:`BUILTIN_KEYS`, or ``None`` for a metadata key."""
    metadata: str | None
    """The metadata key, or ``None`` for a record field."""


def parse_key(key: str) -> Key:
    """The :class:`Key` that ``key`` names; :class:`ConfigurationError` if it cannot."""
    if not isinstance(key, str) or not key:
        raise ConfigurationError(f"a grouping key must be a non-empty string, not {key!r}")
    if key in BUILTIN_KEYS:
        return Key(field=key, metadata=None)
    name = key.removeprefix("metadata.") if key.startswith("metadata.") else key
    if not name or '"' in name or "\\" in name:
        raise ConfigurationError(
            f"metadata key {key!r} cannot be queried (empty, or contains a quote or backslash)",
            name="by",
            value=key,
        )
    return Key(field=None, metadata=name)


@dataclass(frozen=True)
class Selection:
    """Which records a query covers: ``since <= timestamp < until``, and ``where``."""

    since: datetime | None = None
    until: datetime | None = None
    where: tuple[tuple[Key, str], ...] = ()
    """Each key must equal the text (or the number or boolean it spells)."""


def alternatives(value: str) -> list[Any]:
    """The values a ``where`` text matches: itself, and the JSON number or boolean it spells."""
    options: list[Any] = [value]
    try:
        parsed = json.loads(value)
    except ValueError:
        return options
    if isinstance(parsed, bool | int | float):
        options.append(parsed)
    return options


GroupRows = tuple[UsageTotals, list[tuple[tuple[Any, ...], UsageTotals]]]
"""What a reader's ``totals`` returns: the overall totals, and (key values, totals) per group."""


def totals_sql(total: str, money: str) -> str:
    """The aggregate columns both readers select, in :func:`totals_from_row`'s order: calls,
    the sum of each count (``total`` is the SQL sum function), cost (``money``), unpriced
    calls, errors."""
    return ", ".join(
        (
            "COUNT(*)",
            *(f"{total}({name})" for name in COUNT_NAMES),
            f"{money}(cost_usd)",
            "COUNT(*) - COUNT(cost_usd)",
            "COUNT(error_type)",
        )
    )


def totals_from_row(row: Sequence[Any]) -> UsageTotals:
    """Totals from the columns :func:`totals_sql` selects."""
    calls, *counts, cost, unpriced, errors = row
    return UsageTotals(
        calls=int(calls),
        **{name: int(count or 0) for name, count in zip(COUNT_NAMES, counts, strict=True)},
        cost_usd=Decimal(cost) if cost is not None else Decimal(0),
        unpriced_calls=int(unpriced),
        errors=int(errors),
    )


def record_dict(r: Mapping[str, Any]) -> dict[str, Any]:
    """A ledger row (column -> value, ``metadata`` and ``context_path`` decoded, ``timestamp``
    and ``cost_usd`` as text) as :meth:`UsageRecord.to_dict` gives it."""
    return {
        "record_id": r["record_id"],
        "timestamp": r["timestamp"],
        "model": r["model"],
        "provider": r["provider"],
        "api": r["api"],
        **{name: r[name] for name in COUNT_NAMES},
        "total_tokens": r["input_tokens"] + r["output_tokens"],
        "cost_usd": r["cost_usd"],
        "metadata": r["metadata"],
        "context_path": r["context_path"],
        "error": None
        if r["error_type"] is None
        else {"type": r["error_type"], "message": r["error_message"] or ""},
        "latency_ms": r["latency_ms"],
        "usage_status": r["usage_status"],
        "batch": bool(r["batch"]),
        "service_tier": r["service_tier"],
        "request_id": r["request_id"],
    }
