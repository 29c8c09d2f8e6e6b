"""pytest-rerunfailures: each run of a test has its own usage context and budget verdict."""

from __future__ import annotations

import pytest
from reports_testing import read_report

FLAKY = """
import pytest
from aiusage_core import record_usage

RUNS = []

@pytest.mark.ai_budget(calls=1)
@pytest.mark.flaky(reruns=2)
def test_flaky(ai_usage):
    RUNS.append(ai_usage)
    record_usage(model="gpt-4o-mini", input_tokens=1000, output_tokens=500)
    # Every run starts from nothing: the earlier runs' calls are not this run's.
    assert ai_usage.totals.calls == 1
    assert len({id(context) for context in RUNS}) == len(RUNS)
    assert len(RUNS) == 3, "flaky"
"""


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["serial", "xdist"])
def test_each_run_of_a_rerun_test_has_its_own_usage_and_budget(
    pytester: pytest.Pytester, workers: list[str]
) -> None:
    pytester.makepyfile(test_rerun_flaky=FLAKY)
    result = pytester.runpytest_subprocess(
        *workers, "--aiusage-json=usage.json", "--aiusage-summary=summary.md"
    )
    # One context for all three runs would put 3 calls on the last one: over calls=1.
    assert result.parseoutcomes() == {"passed": 1, "rerun": 2}
    report = read_report(pytester.path / "usage.json")
    runs = [(t["nodeid"], t.get("rerun", 0), t["calls"]) for t in report["tests"]]
    assert runs == [
        ("test_rerun_flaky.py::test_flaky", 0, 1),
        ("test_rerun_flaky.py::test_flaky", 1, 1),
        ("test_rerun_flaky.py::test_flaky", 2, 1),
    ]
    summary = (pytester.path / "summary.md").read_text()
    assert "test_rerun_flaky.py::test_flaky (rerun 2)" in summary
    # Every run's calls were made and billed: the session counts them all.
    assert report["totals"]["calls"] == 3
    assert report["totals"]["cost_usd"] == "0.00135"
    result.stdout.fnmatch_lines(
        [
            "most expensive tests (top 3):",
            "  $0.00045      1 call       1,000 in         500 out  "
            "test_rerun_flaky.py::test_flaky",
            "  $0.00045      1 call       1,000 in         500 out  "
            "test_rerun_flaky.py::test_flaky (rerun 1)",
            "  $0.00045      1 call       1,000 in         500 out  "
            "test_rerun_flaky.py::test_flaky (rerun 2)",
        ]
    )


OVER_THEN_WITHIN = """
import pytest
from aiusage_core import record_usage

RUNS = []

@pytest.mark.ai_budget(calls=1)
@pytest.mark.flaky(reruns=1)
def test_retries_with_fewer_calls():
    RUNS.append(1)
    for _ in range(2 if len(RUNS) == 1 else 1):
        record_usage(model="gpt-4o-mini", input_tokens=1000, output_tokens=500)
"""


def test_a_run_over_budget_is_rerun_and_the_next_run_is_judged_on_its_own(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(test_rerun_budget=OVER_THEN_WITHIN)
    result = pytester.runpytest("-rR", "--aiusage-json=usage.json")
    # The first run broke its budget (2 calls > 1) and was rerun; the rerun made 1 call.
    assert result.parseoutcomes() == {"passed": 1, "rerun": 1}
    result.stdout.fnmatch_lines(["RERUN test_rerun_budget.py::test_retries_with_fewer_calls*"])
    report = read_report(pytester.path / "usage.json")
    assert [(t.get("rerun", 0), t["calls"]) for t in report["tests"]] == [(0, 2), (1, 1)]


def test_the_last_run_over_budget_fails_the_test(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_rerun_budget="""
import pytest
from aiusage_core import record_usage

@pytest.mark.ai_budget(calls=1)
@pytest.mark.flaky(reruns=1)
def test_always_over():
    record_usage(model="gpt-4o-mini", input_tokens=1000, output_tokens=500)
    record_usage(model="gpt-4o-mini", input_tokens=1000, output_tokens=500)
"""
    )
    result = pytester.runpytest()
    assert result.parseoutcomes() == {"failed": 1, "rerun": 1}
    # The verdict of the last run names its own 2 calls, not the 4 of both runs.
    result.stdout.fnmatch_lines(["AI budget exceeded: calls 2 > limit 1*"])
    result.stdout.no_fnmatch_line("*calls 4 > limit 1*")
