"""JsonlSink: exact round trips, whole lines under concurrency, damage kept to one line."""

from __future__ import annotations

import json
import threading
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from sinks_testing import make_record

from aiusage_core import (
    ErrorInfo,
    JsonlSink,
    ai_usage_context,
    configure,
    record_usage,
)


def test_round_trip_keeps_every_field_and_the_exact_decimal(tmp_path: Path) -> None:
    path = tmp_path / "out" / "usage.jsonl"  # the folder is created on first write
    original = make_record(
        model="gpt-4o",
        provider="azure",
        api="responses",
        input_tokens=1200,
        cached_input_tokens=1024,
        cache_write_tokens=0,
        output_tokens=300,
        reasoning_tokens=128,
        input_audio_tokens=7,
        output_audio_tokens=9,
        # 28 significant digits: a float would round this.
        cost_usd=Decimal("0.0012345678901234567890123456"),
        metadata={"job_id": "job-7", "tags": {"team": "ocr", "n": [1, 2]}, "ok": True},
        context_path=("batch", "page"),
        error=ErrorInfo("RateLimitError", "slow down"),
        latency_ms=812.5,
        usage_status="reported",
        batch=True,
        service_tier="flex",
        request_id="req_123",
        when=datetime(2026, 11, 1, 23, 59, 59, 999999, tzinfo=timezone.utc),
    )
    sink = JsonlSink(path)
    sink.write([original])
    sink.close()

    line = json.loads(path.read_text(encoding="utf-8"))
    assert line["cost_usd"] == "0.0012345678901234567890123456"
    (back,) = JsonlSink.read(path)
    assert back == original
    assert back.cost_usd == Decimal("0.0012345678901234567890123456")
    assert back.to_dict() == original.to_dict()


def test_unpriced_records_keep_cost_none(tmp_path: Path) -> None:
    sink = JsonlSink(tmp_path / "u.jsonl")
    sink.write([make_record(model="my-private-model", cost_usd=None)])
    (back,) = JsonlSink.read(tmp_path / "u.jsonl")
    assert back.cost_usd is None
    assert json.loads((tmp_path / "u.jsonl").read_text())["cost_usd"] is None


def test_configured_sink_receives_records_of_exited_contexts(tmp_path: Path) -> None:
    path = tmp_path / "usage.jsonl"
    with configure(sinks=[JsonlSink(path)]):
        with ai_usage_context("receipt_batch", job_id="job-1"):
            record_usage(model="gpt-4o-mini", input_tokens=1000, output_tokens=200)
            record_usage(model="gpt-4o-mini", input_tokens=2000, output_tokens=100)
        records = list(JsonlSink.read(path))
    assert [r.input_tokens for r in records] == [1000, 2000]
    # 1000 x $0.15/MTok + 200 x $0.60/MTok, and 2000 x $0.15/MTok + 100 x $0.60/MTok
    assert [r.cost_usd for r in records] == [Decimal("0.00027"), Decimal("0.00036")]
    assert all(r.metadata["job_id"] == "job-1" for r in records)


def test_threads_appending_at_once_write_whole_lines(tmp_path: Path) -> None:
    sink = JsonlSink(tmp_path / "t.jsonl")
    start = threading.Barrier(8)

    def writer(n: int) -> None:
        start.wait()
        for i in range(50):
            sink.write([make_record(input_tokens=n * 1000 + i, request_id="x" * 5000)])

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    tokens = sorted(r.input_tokens for r in JsonlSink.read(tmp_path / "t.jsonl"))
    assert tokens == sorted(n * 1000 + i for n in range(8) for i in range(50))


def test_a_line_torn_by_a_killed_writer_costs_that_line_only(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "torn.jsonl"
    sink = JsonlSink(path)
    sink.write([make_record(input_tokens=1)])
    with path.open("ab") as f:  # what a writer killed mid-write leaves behind
        f.write(b'{"record_id": "half')
    sink.write([make_record(input_tokens=2)])
    sink.write([make_record(input_tokens=3)])

    assert path.read_bytes().splitlines()[1] == b'{"record_id": "half'
    assert [r.input_tokens for r in JsonlSink.read(path)] == [1, 2, 3]
    assert "skipping damaged line 2" in caplog.text


def test_fsync_option_still_appends(tmp_path: Path) -> None:
    sink = JsonlSink(tmp_path / "f.jsonl", fsync=True)
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    sink.write([make_record(when=start + timedelta(days=i)) for i in range(3)])
    assert [r.timestamp.day for r in JsonlSink.read(tmp_path / "f.jsonl")] == [1, 2, 3]
