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


def totals_from_row(row: Sequence[Any]) -> UsageTotals:
    """Totals from the aggregate columns both readers select, in this order: calls, input,
    cached input, output and reasoning tokens, cost, unpriced calls, errors."""
    calls, inp, cached, out, reasoning, cost, unpriced, errors = row
    return UsageTotals(
        calls=int(calls),
        input_tokens=int(inp or 0),
        cached_input_tokens=int(cached or 0),
        output_tokens=int(out or 0),
        reasoning_tokens=int(reasoning or 0),
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
        "input_tokens": r["input_tokens"],
        "cached_input_tokens": r["cached_input_tokens"],
        "cache_write_tokens": r["cache_write_tokens"],
        "output_tokens": r["output_tokens"],
        "reasoning_tokens": r["reasoning_tokens"],
        "input_audio_tokens": r["input_audio_tokens"],
        "output_audio_tokens": r["output_audio_tokens"],
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
