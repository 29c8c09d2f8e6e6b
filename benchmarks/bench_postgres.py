"""Benchmark: records into a PostgreSQL ledger (``PostgresSink``) from one process.

::

    python benchmarks/bench_postgres.py                      # a throwaway local server
    python benchmarks/bench_postgres.py --dsn postgresql://aiusage@localhost/bench
    python benchmarks/bench_postgres.py --n 1000000          # more records
    AIUSAGE_BENCH_CI=1 python benchmarks/bench_postgres.py --dsn ...   # CI: small, no target

Without ``--dsn`` (or ``AIUSAGE_BENCH_POSTGRES``) it starts a server of its own on loopback
with the test suite's launcher (``tests/sinks/postgres/pg_server.py``), as the tests do.

Two figures: ``PostgresSink.write`` of ready-made records in batches of 1,000 (what the
outbox hands a sink with the default ``flush_every``), target at least 50,000 records/s;
and the whole path as ``bench_ledger.py`` runs it (``record_usage`` priced with
genai-prices -> the context -> the outbox -> ``PostgresSink``), no target. A second write
of the same batches measures the retry path (every record already stored).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import bench_ledger

from aiusage_core import Ledger, PostgresSink, UsageRecord, configure

MIN_RECORDS_PER_SECOND = 50_000.0
BATCH = 1_000
CI_RECORDS = 20_000


@dataclass
class Result:
    """Figures of one run."""

    records: int
    write_seconds: float
    write_cpu_seconds: float
    retry_seconds: float
    path_seconds: float
    stored: int
    server_cpu_seconds: float | None

    @property
    def per_second(self) -> float:
        """Records per second through ``PostgresSink.write``."""
        return self.records / self.write_seconds

    def report(self) -> str:
        """The figures as text."""
        return "\n".join(
            [
                f"records              {self.records:,} (stored: {self.stored:,})",
                f"PostgresSink.write   {self.write_seconds:.2f} s = {self.per_second:,.0f} "
                f"records/s (target >= {MIN_RECORDS_PER_SECOND:,.0f})",
                f"  CPU per record     client {self.write_cpu_seconds / self.records * 1e6:.1f} us"
                + (
                    f", server {self.server_cpu_seconds / self.records * 1e6:.1f} us = "
                    f"{self.records / (self.write_cpu_seconds + self.server_cpu_seconds):,.0f} "
                    "records per CPU second (what an unloaded machine would give)"
                    if self.server_cpu_seconds is not None
                    else " (server CPU: not a local server)"
                ),
                f"  again (all stored) {self.records / self.retry_seconds:,.0f} records/s "
                "(the retry path: INSERT ... ON CONFLICT DO NOTHING)",
                f"full path            {self.records / self.path_seconds:,.0f} records/s "
                "(record_usage -> context -> outbox -> PostgresSink)",
            ]
        )


def _fresh(dsn: str) -> None:
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS usage_records, schema_version")


def run(n: int, dsn: str) -> Result:
    """Run the benchmark with ``n`` records against the database at ``dsn`` (emptied)."""
    _fresh(dsn)
    keep = bench_ledger._KeepSink()
    with configure(sinks=[keep]):
        bench_ledger._make_records(n)
    records: list[UsageRecord] = keep.records
    sink = PostgresSink(dsn)
    sink.check()
    sink.write(records[:BATCH])  # warm up: connection, COPY, caches (stored again below)

    backend = _backend_pid(sink)
    server_cpu = _cpu_seconds(backend)
    started, cpu = time.perf_counter(), time.process_time()
    for i in range(BATCH, n, BATCH):
        sink.write(records[i : i + BATCH])
    write_seconds = time.perf_counter() - started
    write_cpu = time.process_time() - cpu
    server_after = _cpu_seconds(backend)
    server_seconds = (
        None if server_cpu is None or server_after is None else server_after - server_cpu
    )
    started = time.perf_counter()
    for i in range(0, n, BATCH):
        sink.write(records[i : i + BATCH])
    retry_seconds = time.perf_counter() - started
    sink.close()
    with Ledger(dsn) as ledger:
        stored = ledger.count()

    _fresh(dsn)
    path_sink = PostgresSink(dsn)
    path_sink.check()
    with configure(sinks=[path_sink]):
        started = time.perf_counter()
        bench_ledger._make_records(n)
        path_seconds = time.perf_counter() - started
    path_sink.close()
    scale = n / (n - BATCH) if n > BATCH else 1.0  # the timed writes left the warm-up out
    return Result(
        n,
        write_seconds * scale,
        write_cpu * scale,
        retry_seconds,
        path_seconds,
        stored,
        None if server_seconds is None else server_seconds * scale,
    )


def _backend_pid(sink: PostgresSink) -> int:
    """The process id of the server process serving ``sink``'s connection."""
    row = sink._connection().execute("SELECT pg_backend_pid()").fetchone()
    sink._connection().commit()
    return int(row[0])


def _cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a local process (Linux), or None if it cannot be read."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def _server(dsn: str | None) -> Iterator[str]:
    if dsn:
        yield dsn
        return
    sys.path.insert(0, str(Path(__file__).parents[1] / "tests" / "sinks" / "postgres"))
    from pg_server import PostgresServer

    server = PostgresServer(durable=True)
    try:
        yield server.dsn()
    finally:
        server.close()


def main(argv: Sequence[str] | None = None) -> int:
    """Run from the command line; exit status 1 if the target is missed (not in CI mode)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ci = os.environ.get("AIUSAGE_BENCH_CI", "") not in ("", "0")
    parser.add_argument("--n", type=int, default=CI_RECORDS if ci else 200_000)
    parser.add_argument(
        "--dsn",
        default=os.environ.get("AIUSAGE_BENCH_POSTGRES"),
        help="the database to use (its aiusage tables are dropped first); "
        "default: a throwaway local server",
    )
    parser.add_argument("--no-check", action="store_true", help="report only, never fail")
    args = parser.parse_args(argv)
    with _server(args.dsn) as dsn:
        result = run(args.n, dsn)
    print(result.report())
    if result.stored != args.n:
        print(f"FAILED: the ledger holds {result.stored:,} of {args.n:,} records")
        return 1
    if ci or args.no_check:
        return 0
    if result.per_second < MIN_RECORDS_PER_SECOND:
        print("FAILED: the target was missed")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
