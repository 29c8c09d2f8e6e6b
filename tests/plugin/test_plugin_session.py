"""The session budget (``--aiusage-max-usd``) and strict mode (``--aiusage-strict``)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

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
from aiusage_core import propagate, record_usage

def call():
    record_usage(model="gpt-4o-mini", input_tokens=10, output_tokens=5)

def test_plain_thread():
    thread = threading.Thread(target=call)
    thread.start()
    thread.join()

def test_propagated_thread(ai_usage):
    thread = threading.Thread(target=propagate(call))
    thread.start()
    thread.join()
    ai_usage.assert_calls(1)
"""


def test_calls_outside_any_context_are_reported_with_the_test_they_happened_in(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(test_threads=THREADS)
    result = pytester.runpytest("--aiusage-json=usage.json")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(
        [
            "outside any usage context: 1 call, $0.0000045 (use --aiusage-strict to fail the test)",
            "  $0.0000045      1 call          10 in           5 out  during "
            "test_threads.py::test_plain_thread",
        ]
    )


def test_strict_mode_fails_the_test_that_called_outside_any_context(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(test_threads=THREADS)
    result = pytester.runpytest("--aiusage-strict")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*_ test_plain_thread _*",
            "AI call outside any usage context during this test (--aiusage-strict): 1 call: "
            "gpt-4o-mini 10 in / 5 out $0.0000045; calls made in other threads are counted on "
            "the test only when the thread is started through aiusage_core.propagate(fn) or "
            "ContextThreadPoolExecutor",
            "outside any usage context: 1 call, $0.0000045 (failing the test)",
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
