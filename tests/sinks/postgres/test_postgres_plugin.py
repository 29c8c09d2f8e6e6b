"""``AIUSAGE_LEDGER=postgresql://...`` makes a test run (serial or under xdist) write every
test's records to the team ledger."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pytest

from aiusage_core import Ledger

TESTS = """
from aiusage_core import record_usage

def test_one():
    record_usage(model="gpt-4o-mini", input_tokens=1000, output_tokens=200)

def test_two():
    record_usage(model="gpt-4o", input_tokens=100)
    record_usage(model="gpt-4o", input_tokens=200)
"""


def test_a_test_run_writes_its_records_to_a_postgres_ledger(
    pytester: pytest.Pytester,
    write_ini: Callable[[str], None],
    postgres_dsn: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    write_ini()
    pytester.makepyfile(test_ledger=TESTS)
    monkeypatch.setenv("AIUSAGE_LEDGER", postgres_dsn)
    pytester.runpytest_subprocess("-n", "2").assert_outcomes(passed=2)
    with Ledger(postgres_dsn) as ledger:
        report = ledger.report(["path", "model"])
    assert [(g.key, g.totals.calls, g.totals.input_tokens) for g in report.groups] == [
        (("test_ledger.py::test_one", "gpt-4o-mini"), 1, 1000),
        (("test_ledger.py::test_two", "gpt-4o"), 2, 300),
    ]
    assert report.totals.cost_usd == Decimal("0.00102")  # 0.00027 + 300 x $2.50/MTok
