"""The counts a usage record carries, declared once: everything else is derived from here.

:class:`TokenCounts` declares each count with its meaning, the count it is part of, its
genai-prices usage key and its OpenTelemetry attribute; :data:`COUNTS` is that declaration
as an ordered tuple. Records, totals, price queries, the SQLite columns, JSON and CSV
exports, span attributes and the hypothesis strategies iterate it, so adding a count is one
field here (plus a ledger migration in ``_sqlite``).

The conventions are provider-neutral, and each provider adapter normalises its provider's
usage to them:

* ``input_tokens`` includes the cached (cache-read) and cache-write tokens;
* ``cache_write_tokens`` includes the one-hour cache writes (``cache_write_1h_tokens``);
  the rest are five-minute (or untimed) writes;
* ``output_tokens`` includes the reasoning tokens;
* a part never exceeds the count it is part of, and cache reads plus cache writes never
  exceed the input.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

__all__ = [
    "COUNTS",
    "COUNT_NAMES",
    "ENCLOSING",
    "MISSING",
    "PARTS",
    "Count",
    "TokenCounts",
    "Usage",
    "UsageStatus",
    "make_usage",
]

UsageStatus = Literal["reported", "missing", "manual"]
"""How a record's token counts were obtained.

``reported``: from the provider's response; ``missing``: the response carried no usage (the
record has zero tokens and ``cost_usd=None``, never a made-up zero cost); ``manual``: given to
:func:`record_usage` by hand.
"""


@dataclass(frozen=True, slots=True)
class Count:
    """One count of the vocabulary."""

    name: str
    """The field name in records, totals, price queries, ledger columns and exports."""
    meaning: str
    """What it counts, in one sentence."""
    part_of: str | None
    """The count that includes this one (``None`` for a top-level count)."""
    genai_key: str
    """The matching ``genai_prices.Usage`` key, for pricing (the name, unless declared)."""
    otel_attribute: str
    """The span attribute :class:`~aiusage_core.OTelSink` sets."""
    otel_always: bool
    """Set the attribute even when the count is 0 (the core GenAI semantic conventions)."""


def _count(
    meaning: str,
    *,
    otel: str,
    genai: str | None = None,
    part_of: str | None = None,
    otel_always: bool = False,
) -> Any:
    return field(
        default=0,
        metadata={
            "meaning": meaning,
            "part_of": part_of,
            "genai_key": genai,
            "otel_attribute": otel,
            "otel_always": otel_always,
        },
    )


@dataclass(frozen=True, kw_only=True)
class TokenCounts:
    """The counts of one call, or sums of them: the base of records, totals and price
    queries (keyword-only fields, all ``0`` by default)."""

    input_tokens: int = _count(
        "Input (prompt) tokens, including cached and cache-write tokens.",
        otel="gen_ai.usage.input_tokens",
        otel_always=True,
    )
    """Input (prompt) tokens, including cached and cache-write tokens."""
    output_tokens: int = _count(
        "Output (completion) tokens, including reasoning tokens.",
        otel="gen_ai.usage.output_tokens",
        otel_always=True,
    )
    """Output (completion) tokens, including reasoning tokens."""
    cached_input_tokens: int = _count(
        "Input tokens read from the prompt cache (billed at the cached rate).",
        part_of="input_tokens",
        genai="cache_read_tokens",
        otel="gen_ai.usage.cache_read.input_tokens",
        otel_always=True,
    )
    """Input tokens read from the prompt cache (billed at the cached rate)."""
    cache_write_tokens: int = _count(
        "Input tokens written to the prompt cache, where the provider bills them apart.",
        part_of="input_tokens",
        otel="gen_ai.usage.cache_creation.input_tokens",
    )
    """Input tokens written to the prompt cache, where the provider bills them apart."""
    cache_write_1h_tokens: int = _count(
        "Cache-write tokens kept for one hour (Anthropic's 1h TTL), part of cache_write_tokens.",
        part_of="cache_write_tokens",
        otel="aiusage.usage.cache_creation_1h.input_tokens",
    )
    """Cache-write tokens kept for one hour (Anthropic's 1h TTL), part of cache_write_tokens."""
    reasoning_tokens: int = _count(
        "Output tokens spent on reasoning.",
        part_of="output_tokens",
        genai="output_reasoning_tokens",
        otel="gen_ai.usage.reasoning.output_tokens",
        otel_always=True,
    )
    """Output tokens spent on reasoning."""
    input_audio_tokens: int = _count(
        "Input tokens that were audio.",
        part_of="input_tokens",
        otel="gen_ai.usage.audio.input_tokens",
    )
    """Input tokens that were audio."""
    output_audio_tokens: int = _count(
        "Output tokens that were audio.",
        part_of="output_tokens",
        otel="gen_ai.usage.audio.output_tokens",
    )
    """Output tokens that were audio."""
    web_search_requests: int = _count(
        "Server-side web searches the model ran (a count of requests, not tokens).",
        genai="web_searches",
        otel="aiusage.usage.web_search_requests",
    )
    """Server-side web searches the model ran (a count of requests, not tokens)."""


COUNTS: tuple[Count, ...] = tuple(
    Count(name=f.name, **{**f.metadata, "genai_key": f.metadata["genai_key"] or f.name})
    for f in dataclasses.fields(TokenCounts)
)
"""Every count, in order: the one vocabulary."""

COUNT_NAMES: tuple[str, ...] = tuple(c.name for c in COUNTS)
"""The names of :data:`COUNTS`, in order."""


def _enclosing(name: str) -> tuple[str, ...]:
    by_name = {c.name: c for c in COUNTS}
    chain: list[str] = []
    parent = by_name[name].part_of
    while parent is not None:
        if COUNT_NAMES.index(parent) > COUNT_NAMES.index(name):  # pragma: no cover
            raise AssertionError(f"{parent} must be declared before its part {name}")
        chain.append(parent)
        parent = by_name[parent].part_of
    return tuple(chain)


ENCLOSING: dict[str, tuple[str, ...]] = {name: _enclosing(name) for name in COUNT_NAMES}
"""For each count, the counts that include it, nearest first (``()`` for top-level ones)."""

PARTS: dict[str, tuple[str, ...]] = {
    name: tuple(c.name for c in COUNTS if c.part_of == name) for name in COUNT_NAMES
}
"""For each count, the counts directly part of it."""


class Usage(NamedTuple):
    """The validated counts of one call as the hot path passes them: ``status`` then every
    count of :data:`COUNTS`, in order (a tuple, so it is made and unpacked in C)."""

    status: UsageStatus
    """How the counts were obtained (see :data:`UsageStatus`)."""
    input_tokens: int = 0
    output_tokens: int = 0
    cached_input_tokens: int = 0
    cache_write_tokens: int = 0
    cache_write_1h_tokens: int = 0
    reasoning_tokens: int = 0
    input_audio_tokens: int = 0
    output_audio_tokens: int = 0
    web_search_requests: int = 0

    def counts(self) -> dict[str, int]:
        """The counts by name (without the status)."""
        return dict(zip(COUNT_NAMES, self[1:], strict=True))


if Usage._fields != ("status", *COUNT_NAMES):  # pragma: no cover - a declaration mistake
    raise AssertionError(f"Usage fields {Usage._fields} differ from COUNTS {COUNT_NAMES}")

MISSING = Usage("missing")
"""The usage of a call that reported none (or only unusable counts): zero tokens, no cost."""

_new_tuple = tuple.__new__
_ZEROS = (0,) * len(COUNT_NAMES)


def make_usage(status: UsageStatus, counts: dict[str, int]) -> Usage:
    """A :class:`Usage` of ``status`` with ``counts`` by name (absent counts are 0)."""
    if not counts:
        return _new_tuple(Usage, (status, *_ZEROS))
    return _new_tuple(Usage, (status, *(counts.get(name, 0) for name in COUNT_NAMES)))
