"""Benchmark: a million records through one usage context into an SQLite ledger.

::

    python benchmarks/bench_ledger.py                  # 1,000,000 records, checks the targets
    python benchmarks/bench_ledger.py --n 100000       # fewer records
    python benchmarks/bench_ledger.py --profile        # where the time goes (cProfile)
    AIUSAGE_BENCH_CI=1 python benchmarks/bench_ledger.py   # CI: 20,000 records, no targets

The full path is ``record_usage`` (priced with genai-prices) -> attribution to the context
-> the outbox -> a flush every ``flush_every`` records -> ``SQLiteSink.write``, with default
settings. Targets: RSS growth under 100 MB and at least 50,000 records/s. The run also times
the two halves apart (the core with a sink that drops records, and ``SQLiteSink.write`` of
ready-made records) so a miss can be attributed.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import os
import pstats
import resource
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

from aiusage_core import (
    Ledger,
    SQLiteSink,
    UsageRecord,
    ai_usage_context,
    configure,
    record_usage,
)

MAX_RSS_GROWTH_MB = 100.0
MIN_RECORDS_PER_SECOND = 50_000.0
CI_RECORDS = 20_000


def rss_mb() -> float:
    """The resident set size now, in MB (Linux: /proc; elsewhere the peak so far)."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6
    except OSError:  # pragma: no cover - not Linux
        return peak_rss_mb()


def peak_rss_mb() -> float:
    """The peak resident set size so far, in MB."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1e6 if sys.platform == "darwin" else peak / 1e3


class PeakSampler:
    """Samples the RSS every 20 ms in a thread: the peak of one phase, not of the process."""

    def __init__(self) -> None:
        self.peak = rss_mb()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, rss_mb())

    def __enter__(self) -> PeakSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_mb())


class _DropSink:
    """Takes records and forgets them: the core's cost without storage."""

    def write(self, records: Sequence[UsageRecord]) -> None:
        return None

    def close(self) -> None:
        return None


class _KeepSink(_DropSink):
    def __init__(self) -> None:
        self.records: list[UsageRecord] = []

    def write(self, records: Sequence[UsageRecord]) -> None:
        self.records.extend(records)


def _make_records(n: int) -> None:
    with ai_usage_context("bench", job_id="bench-1"):
        for i in range(n):
            record_usage(model="gpt-4o-mini", input_tokens=1000 + i % 500, output_tokens=200)


@dataclass
class Result:
    """Figures of one run."""

    records: int
    seconds: float
    cpu_seconds: float
    stored: int
    rss_growth_mb: float
    peak_growth_mb: float
    core_us: float
    sink_us: float

    @property
    def per_second(self) -> float:
        """Records per second through the full path."""
        return self.records / self.seconds

    def passed(self) -> bool:
        """Whether the targets were met."""
        return (
            self.rss_growth_mb < MAX_RSS_GROWTH_MB
            and self.peak_growth_mb < MAX_RSS_GROWTH_MB
            and self.per_second >= MIN_RECORDS_PER_SECOND
        )

    def report(self) -> str:
        """The figures as text."""
        return "\n".join(
            [
                f"records            {self.records:,} (stored: {self.stored:,})",
                f"full path          {self.seconds:.2f} s = {self.per_second:,.0f} records/s "
                f"(target >= {MIN_RECORDS_PER_SECOND:,.0f})",
                f"  per CPU second   {self.records / self.cpu_seconds:,.0f} records "
                "(all threads; what an unloaded machine would give)",
                f"  core only        {self.core_us:.1f} us/record, CPU time "
                "(record_usage -> attribute -> outbox -> flush, no storage)",
                f"  SQLiteSink.write {self.sink_us:.1f} us/record, CPU time (batches of 1,000)",
                f"RSS growth         {self.rss_growth_mb:.1f} MB now, {self.peak_growth_mb:.1f} MB "
                f"at peak (target < {MAX_RSS_GROWTH_MB:.0f} MB)",
            ]
        )


def run(n: int, folder: str, *, profile: bool = False) -> Result:
    """Run the benchmark with ``n`` records, ledgers in ``folder``."""
    ledger = os.path.join(folder, "bench.db")
    sink = SQLiteSink(ledger)
    with configure(sinks=[sink]):
        _make_records(1_000)  # warm up pricing caches, the ledger and the worker thread
        gc.collect()
        rss_before = rss_mb()
        profiler = cProfile.Profile() if profile else None
        with PeakSampler() as sampler:
            started, cpu_started = time.perf_counter(), time.process_time()
            if profiler is not None:
                profiler.enable()
            _make_records(n)
            if profiler is not None:
                profiler.disable()
            seconds = time.perf_counter() - started
            cpu_seconds = time.process_time() - cpu_started
        rss_after = rss_mb()
        peak_growth = sampler.peak - rss_before
    sink.close()
    with Ledger(ledger) as book:
        stored = book.count() - 1_000

    # The two halves apart, on a slice (a tenth, at least 10,000 records).
    part = max(n // 10, min(n, 10_000))
    with configure(sinks=[_DropSink()]):
        started = time.process_time()
        _make_records(part)
        core_us = (time.process_time() - started) / part * 1e6
    keep = _KeepSink()
    with configure(sinks=[keep]):
        _make_records(part)
    apart = SQLiteSink(os.path.join(folder, "apart.db"))
    apart.check()
    started = time.process_time()
    for i in range(0, part, 1_000):
        apart.write(keep.records[i : i + 1_000])
    sink_us = (time.process_time() - started) / part * 1e6
    apart.close()

    if profiler is not None:
        pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
    return Result(
        n, seconds, cpu_seconds, stored, rss_after - rss_before, peak_growth, core_us, sink_us
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run from the command line; exit status 1 if a target is missed (not in CI mode)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ci = os.environ.get("AIUSAGE_BENCH_CI", "") not in ("", "0")
    parser.add_argument("--n", type=int, default=CI_RECORDS if ci else 1_000_000)
    parser.add_argument("--profile", action="store_true", help="print a cProfile summary")
    parser.add_argument("--no-check", action="store_true", help="report only, never fail")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="aiusage-bench-") as folder:
        result = run(args.n, folder, profile=args.profile)
    print(result.report())
    if result.stored != args.n:
        print(f"FAILED: the ledger holds {result.stored:,} of {args.n:,} records")
        return 1
    if ci or args.no_check:
        return 0
    if not result.passed():
        print("FAILED: a target was missed")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
