"""The values aiusage produces: usage records, totals and error descriptions."""

from __future__ import annotations

import dataclasses
import itertools
import os
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Context, Decimal
from types import MappingProxyType
from typing import Any

from ._counts import COUNT_NAMES, MISSING, TokenCounts, Usage, UsageStatus
from ._limits import safe_text

__all__ = [
    "MISSING",
    "ErrorInfo",
    "Usage",
    "UsageRecord",
    "UsageStatus",
    "UsageTotals",
]

_EMPTY: Mapping[str, Any] = MappingProxyType({})


class _RecordIds:
    """Unique record ids: a random per-process prefix and a counter (uuid4 costs ~2 us).

    The prefix is drawn again in a forked child so parent and child never share ids.
    """

    __slots__ = ("next",)

    def __init__(self) -> None:
        self.reseed()

    def reseed(self) -> None:
        prefix = uuid.uuid4().hex[:20]
        # map() over a counter makes each id in C, with no Python frame (a third of the cost
        # of a method that formats it); one C call, so ids stay unique across threads.
        self.next: Callable[[], str] = map(f"{prefix}{{:012x}}".format, itertools.count(1)).__next__


_ids = _RecordIds()
os.register_at_fork(after_in_child=_ids.reseed)


def new_record_id() -> str:
    """A new unique record id."""
    return _ids.next()


# Money sums use their own context so a caller's low decimal precision cannot round them.
MONEY = Context(prec=60)
# Bound once: looking up a Context method costs as much as the arithmetic (hot paths use them).
money_add = MONEY.add
money_multiply = MONEY.multiply


@dataclass(frozen=True, slots=True)
class ErrorInfo:
    """The type and message of an exception, kept without the exception itself."""

    type: str
    """The exception's class name, e.g. ``"RateLimitError"``."""
    message: str
    """``str()`` of the exception."""

    @classmethod
    def from_exception(cls, exc: BaseException) -> ErrorInfo:
        """Describe ``exc``."""
        message = str(exc)
        if not message.isascii():  # an exception's text is not ours to refuse: make it safe
            message = safe_text(message)
        return cls(type=type(exc).__name__, message=message)

    @classmethod
    def coerce(cls, error: BaseException | str | ErrorInfo | None) -> ErrorInfo | None:
        """Accept an exception, a message or an :class:`ErrorInfo`."""
        if error is None or isinstance(error, ErrorInfo):
            return error
        if isinstance(error, BaseException):
            return cls.from_exception(error)
        if isinstance(error, str):
            return cls(type="Error", message=error)
        raise TypeError(
            f"error must be an exception, a string or ErrorInfo, not {type(error).__name__}"
        )

    def __str__(self) -> str:
        return f"{self.type}: {self.message}" if self.message else self.type


@dataclass(frozen=True)
class UsageRecord(TokenCounts):
    """One API call (or one hand-recorded usage), immutable once made.

    A record holds counts, cost and metadata; never prompt or completion text, never a key.
    Its counts (``input_tokens``, ``output_tokens``, ``cached_input_tokens``, ...) are those
    of :class:`~aiusage_core._counts.TokenCounts`, keyword-only, with one convention for
    every provider: ``input_tokens`` *includes* ``cached_input_tokens`` and
    ``cache_write_tokens``; ``output_tokens`` *includes* ``reasoning_tokens``.
    """

    model: str
    """The model that served the call (the response's model when it reported one)."""
    provider: str = "openai"
    """The provider, as genai-prices names it (``openai``, ``azure``, ``anthropic``, ...)."""
    api: str = "chat"
    """The API called: ``chat``, ``embeddings``, ``responses``, or any name for manual records."""
    cost_usd: Decimal | None = None
    """The cost in US dollars, or ``None`` when the call could not be priced."""
    metadata: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)
    """Metadata merged from the environment, the client, every enclosing context and the call."""
    context_path: tuple[str, ...] = ()
    """Operation types of the enclosing contexts, outermost first; ``()`` outside any context."""
    error: ErrorInfo | None = None
    """Why the call failed, or ``None``."""
    latency_ms: float | None = None
    """Wall time of the call in milliseconds, when measured."""
    usage_status: UsageStatus = "manual"
    """How the token counts were obtained: see :data:`UsageStatus`."""
    batch: bool = False
    """Whether the call was priced at Batch API rates."""
    service_tier: str | None = None
    """The service tier that served the call (from the response), e.g. ``default``, ``flex``."""
    request_id: str | None = None
    """The provider's request id (``x-request-id``), when known."""
    timestamp: datetime = field(default_factory=lambda: datetime.now(timezone.utc))
    """When the record was made (UTC)."""
    record_id: str = field(default_factory=new_record_id)
    """A unique id; sinks use it to store each record once even when a write is retried."""

    @property
    def total_tokens(self) -> int:
        """``input_tokens + output_tokens``."""
        return self.input_tokens + self.output_tokens

    @property
    def operation_type(self) -> str | None:
        """The innermost context's operation type, or ``None`` outside any context."""
        return self.context_path[-1] if self.context_path else None

    @property
    def priced(self) -> bool:
        """Whether the record has a cost."""
        return self.cost_usd is not None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict: ``Decimal`` as an exact string, the timestamp in ISO 8601."""
        return {
            "record_id": self.record_id,
            "timestamp": self.timestamp.isoformat(),
            "model": self.model,
            "provider": self.provider,
            "api": self.api,
            **{name: getattr(self, name) for name in COUNT_NAMES},
            "total_tokens": self.total_tokens,
            "cost_usd": None if self.cost_usd is None else str(self.cost_usd),
            "metadata": _thaw(self.metadata),
            "context_path": list(self.context_path),
            "error": None
            if self.error is None
            else {"type": self.error.type, "message": self.error.message},
            "latency_ms": self.latency_ms,
            "usage_status": self.usage_status,
            "batch": self.batch,
            "service_tier": self.service_tier,
            "request_id": self.request_id,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> UsageRecord:
        """Rebuild a record from :meth:`to_dict` output."""
        error = data.get("error")
        cost = data.get("cost_usd")
        return cls(
            record_id=str(data["record_id"]),
            timestamp=datetime.fromisoformat(str(data["timestamp"])),
            model=str(data["model"]),
            provider=str(data.get("provider", "openai")),
            api=str(data.get("api", "chat")),
            **counts_from(data),
            cost_usd=None if cost is None else Decimal(str(cost)),
            metadata=freeze_mapping(data.get("metadata") or {}),
            context_path=tuple(data.get("context_path") or ()),
            error=None if error is None else ErrorInfo(str(error["type"]), str(error["message"])),
            latency_ms=data.get("latency_ms"),
            usage_status=data.get("usage_status", "manual"),
            batch=bool(data.get("batch", False)),
            service_tier=data.get("service_tier"),
            request_id=data.get("request_id"),
        )

    def __reduce__(self) -> tuple[Any, ...]:
        # MappingProxyType does not pickle; records cross process boundaries (xdist, spools).
        return (_record_from_dict, (self.to_dict(),))


def _record_from_dict(data: Mapping[str, Any]) -> UsageRecord:
    return UsageRecord.from_dict(data)


_new_object = object.__new__
_set_attribute = object.__setattr__


def make_record(fields: dict[str, Any]) -> UsageRecord:
    """Build a record from a complete, already-validated field dict, which it takes over.

    The dataclass ``__init__`` of a frozen class sets each of its ~20 fields through
    ``object.__setattr__``; installing ``fields`` as the instance ``__dict__`` is several
    times faster (no copy), and this runs once per API call. ``fields`` must hold every
    field and must not be used by the caller afterwards (internal callers only).
    """
    record: UsageRecord = _new_object(UsageRecord)
    _set_attribute(record, "__dict__", fields)
    return record


def freeze_mapping(value: Mapping[str, Any]) -> Mapping[str, Any]:
    """A read-only view of a (recursively read-only) copy of ``value``."""
    return MappingProxyType({k: _freeze(v) for k, v in value.items()})


def _freeze(value: Any) -> Any:
    if isinstance(value, Mapping):
        return freeze_mapping(value)
    if isinstance(value, list | tuple):
        return tuple(_freeze(v) for v in value)
    return value


def _thaw(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _thaw(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [_thaw(v) for v in value]
    return value


def thaw(value: Mapping[str, Any]) -> dict[str, Any]:
    """A plain, mutable, JSON-ready copy of frozen metadata."""
    result: dict[str, Any] = _thaw(value)
    return result


def counts_from(data: Mapping[str, Any]) -> dict[str, int]:
    """Every count of :data:`~aiusage_core._counts.COUNTS` read from ``data`` as ints (absent
    ones are 0): how records and totals are rebuilt from JSON or ledger rows."""
    return {name: int(data.get(name) or 0) for name in COUNT_NAMES}


@dataclass(frozen=True, slots=True)
class UsageTotals(TokenCounts):
    """Sums over a set of records: every count of a record (``input_tokens``,
    ``output_tokens``, ``cached_input_tokens``, ``cache_write_tokens``, ...) summed, and
    the fields below. ``cost_usd`` sums the priced records only."""

    calls: int = 0
    """Number of records (API calls)."""
    cost_usd: Decimal = Decimal(0)
    """Cost of the priced records in US dollars."""
    unpriced_calls: int = 0
    """Records whose cost is unknown (``cost_usd is None``): ``cost_usd`` is a lower bound."""
    errors: int = 0
    """Records of failed calls."""

    @property
    def total_tokens(self) -> int:
        """``input_tokens + output_tokens``."""
        return self.input_tokens + self.output_tokens

    @property
    def complete(self) -> bool:
        """Whether every record was priced, so ``cost_usd`` is the full cost."""
        return self.unpriced_calls == 0

    def __add__(self, other: UsageTotals) -> UsageTotals:
        if not isinstance(other, UsageTotals):
            return NotImplemented
        return UsageTotals(
            **{
                f.name: getattr(self, f.name) + getattr(other, f.name)
                for f in dataclasses.fields(self)
                if f.name != "cost_usd"
            },
            cost_usd=MONEY.add(self.cost_usd, other.cost_usd),
        )

    @classmethod
    def of(cls, records: Any) -> UsageTotals:
        """Totals of an iterable of :class:`UsageRecord`."""
        acc = TotalsAccumulator()
        for record in records:
            acc.add(record)
        return acc.snapshot()

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> UsageTotals:
        """Rebuild totals from :meth:`to_dict` output (absent counts are 0)."""
        return cls(
            calls=int(data.get("calls") or 0),
            **counts_from(data),
            cost_usd=Decimal(str(data.get("cost_usd") or 0)),
            unpriced_calls=int(data.get("unpriced_calls") or 0),
            errors=int(data.get("errors") or 0),
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict, ``cost_usd`` as an exact decimal string."""
        return {
            "calls": self.calls,
            **{name: getattr(self, name) for name in COUNT_NAMES},
            "total_tokens": self.total_tokens,
            "cost_usd": str(self.cost_usd),
            "unpriced_calls": self.unpriced_calls,
            "errors": self.errors,
        }


class TotalsAccumulator:
    """Mutable running sums; callers serialise access (a context holds a lock around it)."""

    __slots__ = ("calls", "cost_usd", "counts", "errors", "unpriced_calls")

    def __init__(self) -> None:
        self.calls = 0
        self.counts = dict.fromkeys(COUNT_NAMES, 0)
        self.cost_usd = Decimal(0)
        self.unpriced_calls = 0
        self.errors = 0

    def add(self, record: UsageRecord) -> None:
        """Count ``record``."""
        self.calls += 1
        fields = record.__dict__  # one dict lookup per field beats attribute access here
        counts = self.counts
        for name in COUNT_NAMES:
            value = fields[name]
            if value:
                counts[name] += value
        cost = fields["cost_usd"]
        if cost is None:
            self.unpriced_calls += 1
        else:
            self.cost_usd = money_add(self.cost_usd, cost)
        if fields["error"] is not None:
            self.errors += 1

    def snapshot(self) -> UsageTotals:
        """The current sums as an immutable :class:`UsageTotals`."""
        return UsageTotals(
            calls=self.calls,
            **self.counts,
            cost_usd=self.cost_usd,
            unpriced_calls=self.unpriced_calls,
            errors=self.errors,
        )
