"""pytest-xdist: the controller aggregates what the workers measured, exactly."""

from __future__ import annotations

import pytest
from reports_testing import read_report

MANY_TESTS = """
import pytest
from aiusage_core import ai_usage_context, record_usage

@pytest.mark.parametrize("n", range(6))
def test_scaled(n):
    for _ in range(n):
        record_usage(model="gpt-4o-mini", input_tokens=1000 * (n + 1), output_tokens=7 * n)

class TestMixed:
    def test_two_models(self):
        record_usage(model="gpt-4o", input_tokens=1000, output_tokens=100)
        with ai_usage_context("inner"):
            record_usage(model="gpt-4o-mini", input_tokens=2000, cached_input_tokens=500,
                         output_tokens=100)

    @pytest.mark.ai_budget(calls=0)
    def test_over_budget(self):
        record_usage(model="gpt-4o-mini", input_tokens=1000, output_tokens=500)

def test_unpriced():
    record_usage(model="my-private-model", input_tokens=10, output_tokens=1)

def test_no_ai():
    pass
"""


def test_xdist_totals_and_per_test_figures_equal_a_serial_run(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_many=MANY_TESTS)
    serial = pytester.runpytest("--aiusage-json=serial.json")
    serial.assert_outcomes(passed=9, failed=1)
    parallel = pytester.runpytest_subprocess("-n", "2", "--aiusage-json=xdist.json")
    parallel.assert_outcomes(passed=9, failed=1)
    parallel.stdout.fnmatch_lines(
        ["created: 2/2 workers", "AI budget exceeded: calls 1 > limit 0*"]
    )

    expected = read_report(pytester.path / "serial.json")
    got = read_report(pytester.path / "xdist.json")
    assert got["tests"] == expected["tests"]
    assert got["totals"] == expected["totals"]
    assert got["by_model"] == expected["by_model"]
    assert len(got["tests"]) == 10
    # A figure computed by hand, so equality is not just "both empty": test_scaled[2] makes
    # 2 calls of 3,000 input and 14 output tokens: 2 x (0.00045 + 0.0000084) = 0.0009168.
    scaled = {t["nodeid"]: t for t in got["tests"]}["test_many.py::test_scaled[2]"]
    assert (scaled["calls"], scaled["total_tokens"], scaled["cost_usd"]) == (2, 6028, "0.0009168")

    def total_line(lines: list[str]) -> list[str]:
        return [line for line in lines if line.startswith("total: ")]

    assert total_line(parallel.outlines) == total_line(serial.outlines) != []


def test_session_budget_holds_across_workers(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_spend="""
from aiusage_core import record_usage
import pytest

@pytest.mark.parametrize("n", range(4))
def test_spend(n):
    record_usage(model="gpt-4o-mini", input_tokens=1000, output_tokens=500)
"""
    )
    # Each worker alone spends at most 2 x 0.00045 = 0.0009, under the limit; together the
    # third test's report takes the session to 0.00135 > 0.0012.
    result = pytester.runpytest_subprocess("-n", "2", "--aiusage-max-usd=0.0012")
    assert result.ret != pytest.ExitCode.OK
    result.stdout.fnmatch_lines(
        ["AI session budget exceeded: cost $0.00135 > limit $0.00120 (--aiusage-max-usd)"]
    )
