"""Making usage records: :func:`record_usage` for callers, :func:`emit` for integrations."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation
from typing import Any

from ._config import _holder as _settings
from ._config import settings
from ._context import UsageContext, _adopt, _adoptive, _current, attribute
from ._counts import COUNT_NAMES
from ._delivery import _later, settle
from ._errors import ConfigurationError
from ._limits import MAX_COUNT, encodable, safe_text
from ._metadata import merge_metadata, validate_metadata
from ._records import (
    MISSING,
    ErrorInfo,
    Usage,
    UsageRecord,
    _ids,
    freeze_mapping,
    make_record,
)

__all__ = ["RecordInput", "emit", "record_usage"]

logger = logging.getLogger("aiusage")

_now = datetime.now
_from_timestamp = datetime.fromtimestamp
_new_tuple = tuple.__new__
_UTC = timezone.utc
# record_usage() takes the first six counts of the vocabulary; the rest are 0.
_NO_MORE_DETAILS = (0,) * (len(COUNT_NAMES) - 6)
assert COUNT_NAMES[:6] == (
    "input_tokens",
    "output_tokens",
    "cached_input_tokens",
    "cache_write_tokens",
    "cache_write_1h_tokens",
    "reasoning_tokens",
)

# Every field of a UsageRecord, at the value emit() leaves it when its argument is at its
# default; emit() copies it for each record.
_FIELDS: dict[str, Any] = {f.name: None for f in dataclasses.fields(UsageRecord)}
_FIELDS.update(
    dict.fromkeys(COUNT_NAMES, 0),
    provider="openai",
    api="chat",
    context_path=(),
    usage_status="reported",
    batch=False,
)
_DETAILS = tuple(enumerate(COUNT_NAMES))[2:]  # (index in the counts, name) beyond input, output


class RecordInput:
    """The values handed to a record: what a call ended with, by name.

    Positional ``__init__`` in field order (the integrations' settling builds one per call);
    read by name everywhere.
    """

    __slots__ = (
        "api",
        "batch",
        "call_metadata",
        "client_metadata",
        "context",
        "cost_usd",
        "ended",
        "error",
        "latency_ms",
        "model",
        "provider",
        "request_id",
        "service_tier",
        "usage",
    )

    def __init__(
        self,
        usage: Usage,
        model: str,
        provider: str,
        api: str,
        context: UsageContext | None,
        ended: float | None = None,
        latency_ms: float | None = None,
        service_tier: str | None = None,
        request_id: str | None = None,
        error: ErrorInfo | None = None,
        client_metadata: Mapping[str, Any] | None = None,
        call_metadata: Mapping[str, Any] | None = None,
        cost_usd: Decimal | None = None,
        batch: bool = False,
    ) -> None:
        self.usage = usage
        """The call's counts (validated)."""
        self.model = model
        """The model that served the call."""
        self.provider = provider
        """The provider, as genai-prices names it."""
        self.api = api
        """The API called."""
        self.context = context
        """The usage context the record belongs to (``None``: outside any)."""
        self.ended = ended
        """``time.time()`` when the call ended (the record's timestamp; ``None``: now)."""
        self.latency_ms = latency_ms
        """Wall time of the call, when measured."""
        self.service_tier = service_tier
        """The service tier that served the call."""
        self.request_id = request_id
        """The provider's request id."""
        self.error = error
        """Why the call failed, or ``None``."""
        self.client_metadata = client_metadata
        """The client's default metadata."""
        self.call_metadata = call_metadata
        """The call's own metadata."""
        self.cost_usd = cost_usd
        """A cost given by hand; ``None`` prices the record."""
        self.batch = batch
        """Whether the call ran through a provider's Batch API (priced at batch rates, as
        every call inside a batch context is)."""


def emit(values: RecordInput) -> UsageRecord:
    """Make, price, attribute and queue one record of ``values`` in its context. Counts must
    already be validated; nothing here validates them (text a server sent is escaped).

    ``values.cost_usd=None`` prices the record unless its usage is ``missing`` (which stays
    unpriced), at Batch API rates for a Batch API call or inside a batch context.

    This is the per-record hot path of :func:`record_usage` (a million records must go
    through in well under a minute) and of every provider's settling, so it reads each
    value once into a local and avoids helper calls it can do without.
    """
    usage = values.usage
    model = values.model
    provider = values.provider
    api = values.api
    ctx = values.context
    service_tier = values.service_tier
    request_id = values.request_id
    error = values.error
    client_metadata = values.client_metadata
    call_metadata = values.call_metadata
    cost_usd = values.cost_usd
    ended = values.ended
    latency_ms = values.latency_ms
    config = _settings.current or settings()
    is_batch = values.batch or (ctx.batch if ctx is not None else False)
    if usage[0] != "manual":  # what a server sent (record_usage checked its arguments)
        if max(usage[1:]) > MAX_COUNT:
            usage = _over_limit(usage, model, provider, api)
        if not (
            model.isascii()
            and (service_tier is None or service_tier.isascii())
            and (request_id is None or request_id.isascii())
        ):
            model, service_tier, request_id = _safe_texts(model, service_tier, request_id)
    status = usage[0]
    if cost_usd is None and status != "missing":
        cost_usd = config.pricer.price_usage(model, provider, api, service_tier, is_batch, usage)
    if client_metadata or call_metadata:
        base: Mapping[str, Any] = config.environment_tags
        if client_metadata:
            base = merge_metadata(base, client_metadata)
        if ctx is not None:
            # The context's chain sits above client defaults: re-apply it over them.
            base = merge_metadata(base, _chain_metadata(ctx))
        metadata = freeze_mapping(merge_metadata(base, call_metadata or {}))
    elif ctx is not None:
        metadata = ctx.metadata
    else:
        metadata = config.environment_tags  # frozen by Settings
    # Copying a ready dict and setting what varies is three times faster than a 21-key
    # literal; the fields that are usually at their defaults are set only when they are not.
    fields = _FIELDS.copy()
    fields["model"] = model
    fields["provider"] = provider
    fields["api"] = api
    fields["input_tokens"] = usage[1]
    fields["output_tokens"] = usage[2]
    fields["cost_usd"] = cost_usd
    fields["metadata"] = metadata
    if ctx is not None:
        # ``_path`` is the path a context caches on its first record; the property computes it.
        fields["context_path"] = ctx._path or ctx.path
    fields["usage_status"] = status
    fields["batch"] = is_batch
    fields["timestamp"] = _now(_UTC) if ended is None else _from_timestamp(ended, _UTC)
    fields["record_id"] = _ids.next()  # what new_record_id() returns, without its frame
    if any(usage[3:]):  # rarely: details beyond input and output
        for index, name in _DETAILS:
            fields[name] = usage[index + 1]
    if error is not None:
        if not (error.message.isascii() and error.type.isascii()):  # e.g. a server's text
            error = ErrorInfo(safe_text(error.type), safe_text(error.message))
        fields["error"] = error
    if latency_ms is not None:
        fields["latency_ms"] = latency_ms
    if service_tier is not None:
        fields["service_tier"] = service_tier
    if request_id is not None:
        fields["request_id"] = request_id
    record = make_record(fields)
    attribute(record, ctx, config)
    return record


def _over_limit(usage: Usage, model: str, provider: str, api: str) -> Usage:
    """The usage of a call whose server sent a count no sink can store: ``missing``."""
    logger.warning(
        "aiusage: a %s %s response for model %r reported a token count over %d (%r); the "
        "call is recorded with usage_status='missing' and no cost",
        provider,
        api,
        model,
        MAX_COUNT,
        usage,
    )
    return MISSING


def _safe_texts(
    model: str, service_tier: str | None, request_id: str | None
) -> tuple[str, str | None, str | None]:
    """Text a server sent, made encodable (lone surrogates escaped)."""
    return (
        safe_text(model),
        None if service_tier is None else safe_text(service_tier),
        None if request_id is None else safe_text(request_id),
    )


def _chain_metadata(ctx: UsageContext) -> dict[str, Any]:
    """The metadata of ``ctx``'s chain of contexts, without the environment tags."""
    chain: list[UsageContext] = []
    node: UsageContext | None = ctx
    while node is not None:
        chain.append(node)
        node = node.parent
    merged: dict[str, Any] = {}
    for node in reversed(chain):
        merged = merge_metadata(merged, node.own_metadata)
    return merged


def _count(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigurationError(
            f"record_usage({name}=...) must be a non-negative int, not "
            f"{type(value).__name__} ({value!r})",
            name=name,
            value=value,
        )
    if value < 0:
        raise ConfigurationError(
            f"record_usage({name}={value}) must not be negative", name=name, value=value
        )
    if value > MAX_COUNT:
        raise ConfigurationError(
            f"record_usage({name}={value}) exceeds the largest count a record may carry "
            f"({MAX_COUNT:,})",
            name=name,
            value=value,
        )
    return value


def _text(name: str, value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigurationError(
            f"record_usage({name}=...) must be a non-empty string, not {value!r}",
            name=name,
            value=value,
        )
    if not encodable(value):
        raise ConfigurationError(
            f"record_usage({name}={value!r}) holds a lone surrogate and cannot be encoded as UTF-8",
            name=name,
            value=value,
        )
    return value


def _cost(value: object) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, Decimal | int | float | str):
        raise ConfigurationError(
            f"record_usage(cost_usd=...) must be a Decimal, int, float or decimal string, not "
            f"{type(value).__name__} ({value!r})",
            name="cost_usd",
            value=value,
        )
    try:
        cost = value if isinstance(value, Decimal) else Decimal(str(value))
    except InvalidOperation:
        raise ConfigurationError(
            f"record_usage(cost_usd={value!r}) is not a number", name="cost_usd", value=value
        ) from None
    if not cost.is_finite() or cost < 0:
        raise ConfigurationError(
            f"record_usage(cost_usd={value!r}) must be finite and non-negative",
            name="cost_usd",
            value=value,
        )
    return cost


def _error(error: object) -> ErrorInfo | None:
    if isinstance(error, str) and not encodable(error):
        raise ConfigurationError(
            f"record_usage(error={error!r:.60}) holds a lone surrogate and cannot be encoded "
            "as UTF-8",
            name="error",
            value=error,
        )
    return ErrorInfo.coerce(error)  # type: ignore[arg-type]


def record_usage(
    *,
    model: str,
    input_tokens: int = 0,
    output_tokens: int = 0,
    cached_input_tokens: int = 0,
    reasoning_tokens: int = 0,
    provider: str = "openai",
    api: str = "chat",
    cost_usd: Decimal | int | float | str | None = None,
    metadata: Mapping[str, Any] | None = None,
    error: BaseException | str | ErrorInfo | None = None,
) -> UsageRecord:
    """Record a call by hand (any provider) in the current usage context and return it.

    The record is priced with genai-prices (or your overrides) unless ``cost_usd`` is given;
    an unknown model gives ``cost_usd=None``, never zero. ``input_tokens`` includes
    ``cached_input_tokens`` and ``output_tokens`` includes ``reasoning_tokens``, as OpenAI
    reports them::

        record_usage(model="claude-sonnet-4-5", provider="anthropic",
                     input_tokens=1200, output_tokens=300)

    Bad arguments raise :class:`ConfigurationError` (a ``ValueError``) naming the argument.
    """
    if type(model) is not str or not model.isascii() or not model.strip():
        _text("model", model)
    if provider != "openai" or api != "chat":
        _text("provider", provider)
        _text("api", api)
    # Fast path first: four exact ints, none negative (``type() is int`` rejects bools).
    if not (
        type(input_tokens) is int
        and type(output_tokens) is int
        and type(cached_input_tokens) is int
        and type(reasoning_tokens) is int
        # The OR of ints is negative if one is, and (MAX_COUNT being all ones in binary) at
        # most MAX_COUNT exactly when each of them is: one comparison for all four.
        and 0
        <= (input_tokens | output_tokens | cached_input_tokens | reasoning_tokens)
        <= MAX_COUNT
    ):
        given = {
            "input_tokens": input_tokens,
            "output_tokens": output_tokens,
            "cached_input_tokens": cached_input_tokens,
            "reasoning_tokens": reasoning_tokens,
        }
        for name in COUNT_NAMES:  # checked in the vocabulary's order, against one rule
            if name in given:
                _count(name, given[name])
    if cached_input_tokens > input_tokens:
        raise ConfigurationError(
            f"record_usage(cached_input_tokens={cached_input_tokens}) exceeds "
            f"input_tokens={input_tokens}: input_tokens includes the cached ones",
            name="cached_input_tokens",
            value=cached_input_tokens,
        )
    if reasoning_tokens > output_tokens:
        raise ConfigurationError(
            f"record_usage(reasoning_tokens={reasoning_tokens}) exceeds "
            f"output_tokens={output_tokens}: output_tokens includes the reasoning ones",
            name="reasoning_tokens",
            value=reasoning_tokens,
        )
    call_metadata = validate_metadata(metadata, "record_usage(metadata=...)") if metadata else None
    if _later:
        settle()  # calls that ended before this record come before it
    context = _current.get()
    if context is None and _adoptive.context is not None:
        context = _adopt()  # a thread that inherited no context, during a test (inlined)
    return emit(
        RecordInput(  # positional: keyword binding costs a tenth of this call
            _new_tuple(  # Usage(...) without the Python frame of a NamedTuple's __new__
                Usage,
                (
                    "manual",
                    input_tokens,
                    output_tokens,
                    cached_input_tokens,
                    0,
                    0,
                    reasoning_tokens,
                    *_NO_MORE_DETAILS,
                ),
            ),
            model,
            provider,
            api,
            context,
            None,
            None,
            None,
            None,
            None if error is None else _error(error),
            None,
            call_metadata,
            None if cost_usd is None else _cost(cost_usd),
        )
    )
