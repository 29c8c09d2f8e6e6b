"""The ledger benchmark stays runnable: CI runs it small and checks its bookkeeping only
(throughput on a shared CI machine says little; docs/sinks.md has the measured figures)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).parents[2] / "benchmarks" / "bench_ledger.py"


def _load(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_ledger", BENCH)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "bench_ledger", module)  # dataclasses look it up
    spec.loader.exec_module(module)
    return module


def test_benchmark_in_ci_mode_stores_every_record(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    bench = _load(monkeypatch)
    monkeypatch.setenv("AIUSAGE_BENCH_CI", "1")
    monkeypatch.setattr(bench, "CI_RECORDS", 3_000)
    assert bench.main([]) == 0
    out = capsys.readouterr().out
    assert "records            3,000 (stored: 3,000)" in out
    assert "records/s" in out
    assert "RSS growth" in out
