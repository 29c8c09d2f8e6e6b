"""OpenTelemetry export: a span per record and the GenAI token-usage metric.

Follows the OpenTelemetry GenAI semantic conventions (client inference spans, OpenAI
refinements): span name ``"{gen_ai.operation.name} {gen_ai.request.model}"``, kind
``CLIENT``, ``gen_ai.*`` usage attributes, ``error.type`` and an error status for failed
calls, and the ``gen_ai.client.token.usage`` histogram with ``gen_ai.token.type``. What the
conventions do not cover is under ``aiusage.*``: the exact cost, the context path, and the
merged metadata as ``aiusage.metadata.<key>``.

``opentelemetry`` is imported only when an :class:`OTelSink` is made, so ``aiusage_core``
imports without the ``otel`` extra.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from ._counts import COUNTS
from ._errors import ConfigurationError
from ._records import UsageRecord

if TYPE_CHECKING:
    from opentelemetry.metrics import MeterProvider
    from opentelemetry.trace import TracerProvider

__all__ = ["OTelSink", "span_attributes"]

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_SCOPE = "aiusage"

# gen_ai.operation.name per API. The Responses API is a chat-style inference: the OpenAI
# conventions keep "chat" and tell the APIs apart with openai.api.type.
_OPERATIONS = {
    "chat": "chat",
    "responses": "chat",
    "responses.compact": "chat",
    "embeddings": "embeddings",
    "completions": "text_completion",
}
_OPENAI_API_TYPES = {
    "chat": "chat_completions",
    "responses": "responses",
    "responses.compact": "responses",
}
# genai-prices provider ids -> gen_ai.provider.name well-known values; others pass through.
_PROVIDERS = {
    "openai": "openai",
    "azure": "azure.ai.openai",
    "anthropic": "anthropic",
    "google": "gcp.gen_ai",
    "google-vertex": "gcp.vertex_ai",
    "aws": "aws.bedrock",
    "bedrock": "aws.bedrock",
    "cohere": "cohere",
    "deepseek": "deepseek",
    "groq": "groq",
    "mistral": "mistral_ai",
    "perplexity": "perplexity",
    "x-ai": "x_ai",
}
# The conventions' advised buckets for gen_ai.client.token.usage (powers of 4).
_TOKEN_BUCKETS = [4.0**i for i in range(14)]
_DURATION_BUCKETS = [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48]
_MISSING_EXTRA = (
    'OTelSink needs OpenTelemetry: pip install "pytest-aiusage[otel]" '
    "(or opentelemetry-api and opentelemetry-sdk)"
)


def _ns(ts: datetime) -> int:
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=timezone.utc)
    delta = ts - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1_000


def _attribute_value(value: Any) -> Any:
    """A metadata value as an attribute: primitives as they are, anything else as JSON."""
    if isinstance(value, str | bool | int | float):
        return value
    return json.dumps(_plain(value), ensure_ascii=False, sort_keys=True)


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def operation_name(record: UsageRecord) -> str:
    """``gen_ai.operation.name`` for ``record``."""
    return _OPERATIONS.get(record.api, record.api)


def provider_name(record: UsageRecord) -> str:
    """``gen_ai.provider.name`` for ``record``."""
    return _PROVIDERS.get(record.provider, record.provider)


def span_attributes(record: UsageRecord) -> dict[str, Any]:
    """The span attributes :class:`OTelSink` sets for ``record``."""
    provider = provider_name(record)
    attributes: dict[str, Any] = {
        "gen_ai.operation.name": operation_name(record),
        "gen_ai.provider.name": provider,
        "gen_ai.system": provider,  # the name before semconv 1.37, still read by many backends
        # A record keeps the model that served the call; the request named the same one
        # unless the provider resolved an alias (gpt-4o -> gpt-4o-2024-08-06).
        "gen_ai.request.model": record.model,
        "gen_ai.response.model": record.model,
        "aiusage.api": record.api,
        "aiusage.usage_status": record.usage_status,
        "aiusage.record_id": record.record_id,
        "aiusage.context_path": list(record.context_path),
        "aiusage.batch": record.batch,
    }
    if record.usage_status != "missing":
        for count in COUNTS:
            value = getattr(record, count.name)
            if value or count.otel_always:
                attributes[count.otel_attribute] = value
    if record.provider in ("openai", "azure") and record.api in _OPENAI_API_TYPES:
        attributes["openai.api.type"] = _OPENAI_API_TYPES[record.api]
    if record.service_tier:
        attributes["openai.response.service_tier"] = record.service_tier
    if record.cost_usd is not None:
        attributes["aiusage.cost_usd"] = format(record.cost_usd, "f")
    if record.operation_type is not None:
        attributes["aiusage.operation_type"] = record.operation_type
    if record.request_id:
        attributes["aiusage.request_id"] = record.request_id
    if record.error is not None:
        attributes["error.type"] = record.error.type
    for key, value in record.metadata.items():
        if value is not None:
            attributes[f"aiusage.metadata.{key}"] = _attribute_value(value)
    return attributes


class OTelSink:
    """Sends each record to OpenTelemetry: one ``CLIENT`` span, plus token-usage, duration
    and cost metrics (extra ``otel``: ``pip install "pytest-aiusage[otel]"``).

    ``tracer_provider`` and ``meter_provider`` default to the global ones::

        configure(sinks=[SQLiteSink("usage.db"), OTelSink()])

    A span starts ``latency_ms`` before the record's timestamp and ends at it. Spans are
    emitted when records are flushed, so they are roots of their own traces rather than
    children of the span that was current during the call.
    """

    def __init__(
        self,
        tracer_provider: TracerProvider | None = None,
        meter_provider: MeterProvider | None = None,
    ) -> None:
        try:
            from opentelemetry import metrics, trace
        except ImportError as exc:
            raise ConfigurationError(_MISSING_EXTRA, name="OTelSink", value=None) from exc

        self._tracer_provider = tracer_provider
        self._meter_provider = meter_provider
        from . import __version__ as version

        self._tracer = trace.get_tracer(_SCOPE, version, tracer_provider=tracer_provider)
        meter = metrics.get_meter(_SCOPE, version, meter_provider=meter_provider)
        self._token_usage = meter.create_histogram(
            "gen_ai.client.token.usage",
            unit="{token}",
            description="Number of input and output tokens used.",
            explicit_bucket_boundaries_advisory=_TOKEN_BUCKETS,
        )
        self._duration = meter.create_histogram(
            "gen_ai.client.operation.duration",
            unit="s",
            description="GenAI operation duration.",
            explicit_bucket_boundaries_advisory=_DURATION_BUCKETS,
        )
        self._cost = meter.create_counter(
            "aiusage.client.cost",
            unit="USD",
            description="Cost of the priced GenAI calls in US dollars.",
        )
        self._span_kind = trace.SpanKind.CLIENT
        self._status = trace.Status
        self._error = trace.StatusCode.ERROR
        from opentelemetry.context import Context

        # Records are written on a sink worker thread long after the call: start each span in
        # an empty context so it never nests under whatever span that thread has current.
        self._root = Context()

    def write(self, records: Sequence[UsageRecord]) -> None:
        """Emit a span and the metrics of each record."""
        for record in records:
            self._emit(record)

    def _emit(self, record: UsageRecord) -> None:
        attributes = span_attributes(record)
        end = _ns(record.timestamp)
        start = end - int((record.latency_ms or 0.0) * 1_000_000)
        span = self._tracer.start_span(
            f"{attributes['gen_ai.operation.name']} {record.model}",
            context=self._root,
            kind=self._span_kind,
            attributes=attributes,
            start_time=start,
        )
        if record.error is not None:
            span.set_status(self._status(self._error, str(record.error)))
        span.end(end_time=end)

        metric_attributes: dict[str, Any] = {
            "gen_ai.operation.name": attributes["gen_ai.operation.name"],
            "gen_ai.provider.name": attributes["gen_ai.provider.name"],
            "gen_ai.request.model": record.model,
            "gen_ai.response.model": record.model,
        }
        if record.error is not None:
            metric_attributes["error.type"] = record.error.type
        if record.usage_status != "missing":
            self._token_usage.record(
                record.input_tokens, {**metric_attributes, "gen_ai.token.type": "input"}
            )
            self._token_usage.record(
                record.output_tokens, {**metric_attributes, "gen_ai.token.type": "output"}
            )
        if record.latency_ms is not None:
            self._duration.record(record.latency_ms / 1000.0, metric_attributes)
        if record.cost_usd is not None:
            self._cost.add(float(record.cost_usd), metric_attributes)

    def close(self) -> None:
        """Flush the providers given to this sink (the global ones flush themselves)."""
        for provider in (self._tracer_provider, self._meter_provider):
            force_flush = getattr(provider, "force_flush", None)
            if callable(force_flush):
                force_flush()

    def __repr__(self) -> str:
        return "OTelSink()"
