"""Sink throughput: JSONL and SQLite, alone and at the end of the whole recording path; and
the ledger run of ``bench_ledger.py`` (a million records through one context into SQLite,
targets: at least 50,000 records/s and RSS growth under 100 MB).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import bench_ledger
import pytest

from aiusage_core import (
    JsonlSink,
    SQLiteSink,
    UsageRecord,
    ai_usage_context,
    configure,
    flush,
    record_usage,
)

BATCH = 1_000  # what the outbox hands a sink at a time with the default flush_every


class _KeepSink:
    """Keeps what it is given: a supply of realistic records."""

    def __init__(self) -> None:
        self.records: list[UsageRecord] = []

    def write(self, records: Sequence[UsageRecord]) -> None:
        self.records.extend(records)

    def close(self) -> None:
        return None


def make_records(n: int) -> list[UsageRecord]:
    """``n`` records as ``record_usage`` makes them, in one context with metadata."""
    keep = _KeepSink()
    with configure(sinks=[keep]), ai_usage_context("bench", job_id="bench-1"):
        for i in range(n):
            record_usage(model="gpt-4o-mini", input_tokens=1000 + i % 500, output_tokens=200)
    return keep.records


def make_sink(kind: str, folder: Path, name: str) -> JsonlSink | SQLiteSink:
    """A new, empty sink of ``kind`` in ``folder`` (an SQLite ledger opened and migrated)."""
    if kind == "jsonl":
        return JsonlSink(folder / f"{name}.jsonl")
    sink = SQLiteSink(folder / f"{name}.db")
    sink.check()
    return sink


def best_of(
    benchmark: Any, fn: Callable[..., object], setup: Callable[[], Any], rounds: int
) -> float:
    """Run ``fn`` under pytest-benchmark (one call per round, after an untimed ``setup``);
    return the best round in seconds, measured here too so that it exists when pytest-benchmark
    is disabled."""
    times: list[float] = []

    def timed(*args: Any) -> None:
        start = time.perf_counter()
        fn(*args)
        times.append(time.perf_counter() - start)

    benchmark.pedantic(timed, setup=lambda: ((setup(),), {}), rounds=rounds, iterations=1)
    return min(times)


@pytest.mark.parametrize("kind", ["jsonl", "sqlite"])
def test_sink_write_throughput(
    benchmark: Any, figures: Any, quick: bool, tmp_path: Path, kind: str
) -> None:
    benchmark.group = "sink write, batches of 1,000"
    n = 2_000 if quick else 20_000
    records = make_records(n)
    counter = iter(range(1_000_000))

    def setup() -> JsonlSink | SQLiteSink:
        return make_sink(kind, tmp_path, f"round{next(counter)}")

    def write_all(sink: JsonlSink | SQLiteSink) -> None:
        for start in range(0, n, BATCH):
            sink.write(records[start : start + BATCH])
        sink.close()

    seconds = best_of(benchmark, write_all, setup, rounds=1 if quick else 7)
    figures.record(
        f"{kind} sink write",
        n / seconds,
        unit="records/s",
        detail=f"{seconds / n * 1e6:.1f} us/record: {n:,} records in batches of {BATCH:,}",
    )


@pytest.mark.parametrize("kind", ["jsonl", "sqlite"])
def test_full_path_throughput(
    benchmark: Any, figures: Any, quick: bool, tmp_path: Path, kind: str
) -> None:
    benchmark.group = "record_usage -> context -> outbox -> sink"
    n = 2_000 if quick else 50_000
    counter = iter(range(1_000_000))

    def setup() -> JsonlSink | SQLiteSink:
        return make_sink(kind, tmp_path, f"round{next(counter)}")

    def record_all(sink: JsonlSink | SQLiteSink) -> None:
        with configure(sinks=[sink]), ai_usage_context("bench", job_id="bench-1"):
            for i in range(n):
                record_usage(model="gpt-4o-mini", input_tokens=1000 + i % 500, output_tokens=200)
        flush()
        sink.close()

    seconds = best_of(benchmark, record_all, setup, rounds=1 if quick else 3)
    figures.record(
        f"record_usage -> {kind} sink",
        n / seconds,
        unit="records/s",
        detail=f"{seconds / n * 1e6:.1f} us/record over {n:,} records, default settings",
    )


def test_ledger_million_records(benchmark: Any, figures: Any, quick: bool, tmp_path: Path) -> None:
    benchmark.group = "a million records into the SQLite ledger"
    n = bench_ledger.CI_RECORDS if quick else 1_000_000
    results: list[bench_ledger.Result] = []
    benchmark.pedantic(
        lambda: results.append(bench_ledger.run(n, str(tmp_path))), rounds=1, iterations=1
    )
    result = results[0]
    assert result.stored == n, f"the ledger holds {result.stored:,} of {n:,} records"
    figures.record(
        f"{n:,} records -> SQLite ledger",
        result.per_second,
        unit="records/s",
        goal="at least",
        target=bench_ledger.MIN_RECORDS_PER_SECOND,
        detail=(
            f"{result.records / result.cpu_seconds:,.0f} per CPU second; core "
            f"{result.core_us:.1f} us + SQLiteSink.write {result.sink_us:.1f} us per record (CPU)"
        ),
    )
    figures.record(
        f"{n:,} records -> SQLite ledger, RSS growth",
        max(result.rss_growth_mb, result.peak_growth_mb),
        unit="MB",
        goal="at most",
        target=bench_ledger.MAX_RSS_GROWTH_MB,
        detail=f"{result.rss_growth_mb:.1f} MB after, {result.peak_growth_mb:.1f} MB at peak",
    )
