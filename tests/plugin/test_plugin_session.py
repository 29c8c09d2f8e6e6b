"""The session budget (``--aiusage-max-usd``) and strict mode (``--aiusage-strict``)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from reports_testing import read_report

THREE_TESTS = """
from aiusage_core import record_usage

def test_1():
    record_usage(model="gpt-4o-mini", input_tokens=1000, output_tokens=500)

def test_2():
    record_usage(model="gpt-4o-mini", input_tokens=1000, output_tokens=500)

def test_3():
    record_usage(model="gpt-4o-mini", input_tokens=1000, output_tokens=500)
"""


def test_run_stops_once_the_session_budget_is_exceeded(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_spend=THREE_TESTS)
    # Two tests cost 2 x 0.00045 = 0.0009 > 0.0008: the third never runs.
    result = pytester.runpytest("--aiusage-max-usd=0.0008")
    result.assert_outcomes(passed=2)
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(
        [
            "AI session budget exceeded: cost $0.0009 > limit $0.0008 (--aiusage-max-usd)",
            "*! Interrupted: AI session budget exceeded: cost $0.0009 > limit $0.0008 "
            "(--aiusage-max-usd) !*",
        ]
    )


def test_session_budget_crossed_by_the_last_test_still_fails_the_run(
    pytester: pytest.Pytester,
    write_ini: Callable[[str], None],
) -> None:
    write_ini("aiusage_max_usd = 0.001")
    pytester.makepyfile(test_spend=THREE_TESTS)
    result = pytester.runpytest()
    result.assert_outcomes(passed=3)
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(
        ["AI session budget exceeded: cost $0.00135 > limit $0.00100 (ini aiusage_max_usd)"]
    )


def test_a_run_within_the_session_budget_passes(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_spend=THREE_TESTS)
    result = pytester.runpytest("--aiusage-max-usd=0.00135")
    result.assert_outcomes(passed=3)
    assert result.ret == pytest.ExitCode.OK
    result.stdout.no_fnmatch_line("*session budget*")


THREADS = """
import threading

import pytest
from aiusage_core import ai_usage_tracked, propagate, record_usage

def call():
    record_usage(model="gpt-4o-mini", input_tokens=1000, output_tokens=500)

@ai_usage_tracked
def summarise():
    call()

def run(target, name):
    thread = threading.Thread(target=target, name=name)
    thread.start()
    thread.join()

@pytest.mark.ai_budget(usd=0.0008)
def test_plain_threads(ai_usage):
    run(call, "plain")
    run(summarise, "summariser")  # opens a root context of its own in the thread
    ai_usage.assert_calls(2)

def test_propagated_thread(ai_usage):
    run(propagate(call), "propagated")
    ai_usage.assert_calls(1)
"""


def test_calls_of_threads_without_propagation_belong_to_the_test_and_are_reported(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(test_threads=THREADS)
    result = pytester.runpytest("--aiusage-json=usage.json", "--aiusage-html=usage.html")
    # Counted in the test: its budget ($0.0008 < 2 x $0.00045) sees both calls.
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*_ test_plain_threads _*",
            "AI budget exceeded: cost $0.0009 > limit $0.0008",
            "reached tests without context propagation (counted in them; use --aiusage-strict "
            "to fail the test; start threads with aiusage_core.propagate(fn) or use "
            "ContextThreadPoolExecutor, so their calls carry the context they were started in):",
            "  test_threads.py::test_plain_threads: 2 AI calls reached the test without context "
            "propagation, from threads plain (1), summariser (1)",
        ]
    )
    result.stdout.no_fnmatch_line("outside any usage context*")
    report = read_report(pytester.path / "usage.json")
    tests = {t["nodeid"].split("::")[1]: t for t in report["tests"]}
    assert tests["test_plain_threads"]["calls"] == 2
    assert tests["test_plain_threads"]["cost_usd"] == "0.0009"
    assert tests["test_plain_threads"]["unpropagated"] == {"plain": 1, "summariser": 1}
    assert "unpropagated" not in tests["test_propagated_thread"]
    assert report["outside"] == []
    html = (pytester.path / "usage.html").read_text()
    assert (
        "2 AI calls reached the test without context propagation, from threads plain (1), " in html
    )
    assert report["totals"]["calls"] == 3


def test_strict_mode_fails_a_test_reached_without_propagation(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(test_threads=THREADS)
    result = pytester.runpytest("--aiusage-strict", "--aiusage-default-budget=usd=1")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*_ test_plain_threads _*",
            "2 AI calls reached the test without context propagation, from threads plain (1), "
            "summariser (1) (--aiusage-strict); start threads with aiusage_core.propagate(fn) "
            "or use ContextThreadPoolExecutor, so their calls carry the context they were "
            "started in",
            "reached tests without context propagation (counted in them; failing the test; *",
        ]
    )


def test_strict_mode_from_ini_fails_the_run_for_calls_between_tests(
    pytester: pytest.Pytester,
    write_ini: Callable[[str], None],
) -> None:
    write_ini("aiusage_strict = true")
    pytester.makepyfile(
        test_import_time="""
from aiusage_core import record_usage

record_usage(model="gpt-4o-mini", input_tokens=10, output_tokens=5)

def test_nothing():
    pass
"""
    )
    result = pytester.runpytest()
    result.assert_outcomes(passed=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        [
            "outside any usage context: 1 call, $0.0000045 (failing the test)",
            "*between tests",
        ]
    )
