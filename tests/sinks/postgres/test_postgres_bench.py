"""The PostgreSQL benchmark stays runnable: run small against the test server, it checks
its bookkeeping only (docs/performance.md has the measured figures)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).parents[3] / "benchmarks"


def test_benchmark_in_ci_mode_stores_every_record(
    postgres_dsn: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    spec = importlib.util.spec_from_file_location(
        "bench_postgres", BENCHMARKS / "bench_postgres.py"
    )
    assert spec is not None
    assert spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "bench_postgres", bench)  # dataclasses look it up
    spec.loader.exec_module(bench)
    monkeypatch.setenv("AIUSAGE_BENCH_CI", "1")
    assert bench.main(["--n", "3000", "--dsn", postgres_dsn]) == 0
    out = capsys.readouterr().out
    assert "records              3,000 (stored: 3,000)" in out
    assert "records per CPU second" in out
    assert "full path" in out
