"""OTelSink: GenAI semantic-convention spans and metrics, checked with the SDK's in-memory
exporters."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import HistogramDataPoint, InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode
from sinks_testing import make_record, run_python

from aiusage_core import (
    ConfigurationError,
    ErrorInfo,
    OTelSink,
    ai_usage_context,
    configure,
    record_usage,
)

WHEN = datetime(2026, 11, 2, 9, 30, tzinfo=timezone.utc)
WHEN_NS = 1_793_611_800 * 1_000_000_000  # 2026-11-02T09:30:00Z in ns since the epoch


@dataclass
class Telemetry:
    sink: OTelSink
    spans: InMemorySpanExporter
    metrics: InMemoryMetricReader

    def finished(self) -> list[ReadableSpan]:
        return list(self.spans.get_finished_spans())

    def histogram(self, name: str) -> list[HistogramDataPoint]:
        data = self.metrics.get_metrics_data()
        assert data is not None
        points: list[HistogramDataPoint] = []
        for resource in data.resource_metrics:
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    if metric.name == name:
                        points.extend(metric.data.data_points)  # type: ignore[arg-type]
        return points

    def sums(self, name: str) -> dict[tuple[Any, ...], tuple[int, float]]:
        """(count, sum) per (token type or model) for histogram ``name``."""
        return {
            (p.attributes.get("gen_ai.token.type"), p.attributes["gen_ai.request.model"]): (
                p.count,
                p.sum,
            )
            for p in self.histogram(name)
            if p.attributes is not None
        }


@pytest.fixture
def telemetry() -> Iterator[Telemetry]:
    spans = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader])
    yield Telemetry(OTelSink(tracer_provider, meter_provider), spans, reader)
    tracer_provider.shutdown()
    meter_provider.shutdown()


def test_a_chat_record_becomes_a_client_span_with_genai_attributes(
    telemetry: Telemetry,
) -> None:
    record = make_record(
        model="gpt-4o-mini",
        input_tokens=1200,
        cached_input_tokens=1024,
        output_tokens=300,
        reasoning_tokens=64,
        cost_usd=Decimal("0.0001234500"),
        metadata={"job_id": "job-7", "attempt": 2, "ok": True, "tags": {"team": "ocr"}},
        context_path=("batch", "page"),
        latency_ms=812.5,
        usage_status="reported",
        service_tier="default",
        request_id="req_1",
        when=WHEN,
    )
    telemetry.sink.write([record])

    (span,) = telemetry.finished()
    assert span.name == "chat gpt-4o-mini"
    assert span.kind is SpanKind.CLIENT
    assert span.parent is None
    assert span.end_time == WHEN_NS
    assert span.start_time == WHEN_NS - 812_500_000
    assert span.status.status_code is StatusCode.UNSET
    assert dict(span.attributes or {}) == {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.system": "openai",
        "gen_ai.request.model": "gpt-4o-mini",
        "gen_ai.response.model": "gpt-4o-mini",
        "gen_ai.usage.input_tokens": 1200,
        "gen_ai.usage.output_tokens": 300,
        "gen_ai.usage.cache_read.input_tokens": 1024,
        "gen_ai.usage.reasoning.output_tokens": 64,
        "openai.api.type": "chat_completions",
        "openai.response.service_tier": "default",
        "aiusage.cost_usd": "0.0001234500",
        "aiusage.api": "chat",
        "aiusage.usage_status": "reported",
        "aiusage.record_id": record.record_id,
        "aiusage.context_path": ("batch", "page"),
        "aiusage.operation_type": "page",
        "aiusage.batch": False,
        "aiusage.request_id": "req_1",
        "aiusage.metadata.job_id": "job-7",
        "aiusage.metadata.attempt": 2,
        "aiusage.metadata.ok": True,
        "aiusage.metadata.tags": '{"team": "ocr"}',
    }


def test_a_failed_call_gets_an_error_status_and_error_type(telemetry: Telemetry) -> None:
    telemetry.sink.write(
        [make_record(error=ErrorInfo("RateLimitError", "slow down"), input_tokens=0)]
    )
    (span,) = telemetry.finished()
    assert span.status.status_code is StatusCode.ERROR
    assert span.status.description == "RateLimitError: slow down"
    assert span.attributes is not None
    assert span.attributes["error.type"] == "RateLimitError"


@pytest.mark.parametrize(
    ("api", "provider", "operation", "api_type", "provider_name"),
    [
        ("responses", "openai", "chat", "responses", "openai"),
        ("embeddings", "openai", "embeddings", None, "openai"),
        ("chat", "azure", "chat", "chat_completions", "azure.ai.openai"),
        ("messages", "anthropic", "messages", None, "anthropic"),
    ],
)
def test_operation_and_provider_names_follow_the_conventions(
    telemetry: Telemetry,
    api: str,
    provider: str,
    operation: str,
    api_type: str | None,
    provider_name: str,
) -> None:
    telemetry.sink.write([make_record(model="m", api=api, provider=provider, cost_usd=None)])
    (span,) = telemetry.finished()
    attributes = dict(span.attributes or {})
    assert span.name == f"{operation} m"
    assert attributes["gen_ai.operation.name"] == operation
    assert attributes["gen_ai.provider.name"] == provider_name
    assert attributes.get("openai.api.type") == api_type
    assert "aiusage.cost_usd" not in attributes  # unpriced: absent, never "0"


def test_token_usage_histogram_records_input_and_output_per_model(telemetry: Telemetry) -> None:
    telemetry.sink.write(
        [
            make_record(model="gpt-4o-mini", input_tokens=1000, output_tokens=200, latency_ms=500),
            make_record(model="gpt-4o-mini", input_tokens=3000, output_tokens=100, latency_ms=250),
            make_record(model="gpt-4o", input_tokens=10, output_tokens=5),
            make_record(model="gpt-4o", input_tokens=0, output_tokens=0, usage_status="missing"),
        ]
    )
    assert telemetry.sums("gen_ai.client.token.usage") == {
        ("input", "gpt-4o-mini"): (2, 4000),
        ("output", "gpt-4o-mini"): (2, 300),
        ("input", "gpt-4o"): (1, 10),  # the record without usage adds no zero
        ("output", "gpt-4o"): (1, 5),
    }
    (duration,) = telemetry.histogram("gen_ai.client.operation.duration")
    assert (duration.count, duration.sum) == (2, 0.75)
    (point,) = telemetry.histogram("gen_ai.client.token.usage")[:1]
    assert point.attributes is not None
    assert point.attributes["gen_ai.operation.name"] == "chat"
    assert point.attributes["gen_ai.provider.name"] == "openai"


def test_configured_sink_exports_records_with_merged_metadata(telemetry: Telemetry) -> None:
    with (
        configure(sinks=[telemetry.sink]),
        ai_usage_context("nightly", job_id="job-1"),
        ai_usage_context("ocr", page=3),
    ):
        record_usage(model="gpt-4o-mini", input_tokens=1000, output_tokens=200)
    (span,) = telemetry.finished()
    attributes = dict(span.attributes or {})
    # 1000 x $0.15/MTok + 200 x $0.60/MTok, as an exact decimal string
    assert Decimal(str(attributes["aiusage.cost_usd"])) == Decimal("0.00027")
    assert attributes["aiusage.context_path"] == ("nightly", "ocr")
    assert attributes["aiusage.metadata.job_id"] == "job-1"
    assert attributes["aiusage.metadata.page"] == 3
    assert attributes["aiusage.metadata.environment"] == "test"


def test_without_opentelemetry_the_sink_names_the_extra_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "opentelemetry", None)
    with pytest.raises(ConfigurationError, match=r'pip install "pytest-aiusage\[otel\]"'):
        OTelSink()


def test_importing_aiusage_core_does_not_import_opentelemetry() -> None:
    out = run_python(
        "import sys, aiusage_core; print(any(m.startswith('opentelemetry') for m in sys.modules))"
    )
    assert out.strip() == "False"
