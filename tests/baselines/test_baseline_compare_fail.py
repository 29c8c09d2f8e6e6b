"""``--aiusage-compare-fail=EXPR``: the run fails when a test regresses past a threshold."""

from __future__ import annotations

import pytest
from baselines_testing import section

FAILED_RUN = "AI usage regressed past --aiusage-compare-fail in 1 test: the run fails"


@pytest.fixture
def grown(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """A baseline saved, then test_summarise grown from 1,000 to 1,100 input tokens: cost
    $0.00045 -> $0.000465 (+$0.000015, +3.3%), tokens 1,500 -> 1,600 (+100, +6.7%)."""
    pytester.runpytest("--aiusage-save=main").assert_outcomes(passed=3)
    monkeypatch.setenv("AIU_SUMMARISE_IN", "1100")
    return pytester


def test_a_run_within_every_threshold_passes(grown: pytest.Pytester) -> None:
    # Limits are inclusive: +100 tokens is within tokens:100, +$0.000015 within usd:0.000015.
    result = grown.runpytest(
        "--aiusage-compare=main",
        "--aiusage-compare-fail=usd:5%,tokens:7%",
        "--aiusage-compare-fail=tokens:100",
        "--aiusage-compare-fail=usd:0.000015",
        "--aiusage-compare-fail=calls:0",
    )
    result.assert_outcomes(passed=3)
    assert result.ret == pytest.ExitCode.OK
    assert section(result)[-1] == (
        "no test regressed past --aiusage-compare-fail usd:5%, tokens:7%, tokens:100, "
        "usd:0.000015, calls:0"
    )


@pytest.mark.parametrize(
    ("expr", "line"),
    [
        ("usd:3%", "cost $0.000450 -> $0.000465 (+$0.000015, +3.3%) > usd:3%"),
        ("usd:0.00001", "cost $0.000450 -> $0.000465 (+$0.000015, +3.3%) > usd:0.00001"),
        ("tokens:5%", "tokens 1,500 -> 1,600 (+100, +6.7%) > tokens:5%"),
        ("tokens:99", "tokens 1,500 -> 1,600 (+100, +6.7%) > tokens:99"),
        ("input_tokens:0", "input tokens 1,000 -> 1,100 (+100, +10.0%) > input_tokens:0"),
    ],
)
def test_a_regression_past_a_threshold_fails_the_run_naming_test_and_figures(
    grown: pytest.Pytester, expr: str, line: str
) -> None:
    result = grown.runpytest("--aiusage-compare=main", f"--aiusage-compare-fail={expr}")
    # The tests themselves passed; the run as a whole fails.
    result.assert_outcomes(passed=3)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert section(result)[-3:] == [
        f"regressions past --aiusage-compare-fail {expr}:",
        f"  test_suite.py::test_summarise: {line}",
        FAILED_RUN,
    ]


def test_every_threshold_passed_is_listed(grown: pytest.Pytester) -> None:
    result = grown.runpytest(
        "--aiusage-compare=main",
        "--aiusage-compare-fail=usd:3%, output_tokens:0, tokens:5%",
    )
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert section(result)[-4:] == [
        "regressions past --aiusage-compare-fail usd:3%, output_tokens:0, tokens:5%:",
        "  test_suite.py::test_summarise: cost $0.000450 -> $0.000465 (+$0.000015, +3.3%) > usd:3%",
        "  test_suite.py::test_summarise: tokens 1,500 -> 1,600 (+100, +6.7%) > tokens:5%",
        FAILED_RUN,
    ]


def test_a_percentage_of_a_zero_baseline_allows_no_growth(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.runpytest("--aiusage-save=main").assert_outcomes(passed=3)
    monkeypatch.setenv("AIU_NO_AI_CALLS", "1")
    result = pytester.runpytest("--aiusage-compare=main", "--aiusage-compare-fail=calls:1000%")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert "  test_suite.py::test_no_ai: calls 0 -> 1 (+1, +inf%) > calls:1000%" in section(result)


def test_cheaper_tests_and_new_tests_never_fail(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.runpytest("--aiusage-save=main").assert_outcomes(passed=3)
    monkeypatch.setenv("AIU_SUMMARISE_IN", "10")
    pytester.makepyfile(
        test_added="""
from aiusage_core import record_usage

def test_new_feature():
    record_usage(model="gpt-4o", input_tokens=100000, output_tokens=10000)
"""
    )
    result = pytester.runpytest("--aiusage-compare=main", "--aiusage-compare-fail=usd:0,calls:0")
    result.assert_outcomes(passed=4)
    assert result.ret == pytest.ExitCode.OK
    lines = section(result)
    # 100,000 x 2.50 + 10,000 x 10.00 per million = 0.25 + 0.1
    assert "  test_added.py::test_new_feature: 1 call, 110,000 tokens, $0.35" in lines
    assert lines[-1] == "no test regressed past --aiusage-compare-fail usd:0, calls:0"


def test_a_failing_test_keeps_its_exit_status(
    grown: pytest.Pytester,
) -> None:
    grown.makepyfile(test_broken="def test_broken():\n    assert False\n")
    result = grown.runpytest("--aiusage-compare=main", "--aiusage-compare-fail=usd:0")
    result.assert_outcomes(passed=3, failed=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert section(result)[-1] == FAILED_RUN


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("usd", "'usd' is not <metric>:<threshold>: expected e.g. usd:10%*"),
        ("usd:", "'usd:' is not <metric>:<threshold>*"),
        ("usd:ten", "'usd:ten' is not <metric>:<threshold>*"),
        ("usd:-1%", "'usd:-1%' is not <metric>:<threshold>*"),
        (
            "cost:10%",
            "'cost:10%': unknown metric 'cost' (metrics: usd, tokens, input_tokens, "
            "output_tokens, calls)",
        ),
        ("calls:1.5", "'calls:1.5': an absolute threshold of calls must be a whole number"),
        ("", "'' is empty; expected <metric>:<threshold>, e.g. usd:10%"),
    ],
)
def test_a_bad_expression_is_a_usage_error_naming_it(
    pytester: pytest.Pytester, value: str, message: str
) -> None:
    pytester.runpytest("--aiusage-save=main").assert_outcomes(passed=3)
    result = pytester.runpytest("--aiusage-compare=main", f"--aiusage-compare-fail={value}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: --aiusage-compare-fail={message}"])


def test_compare_fail_without_compare_is_a_usage_error(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--aiusage-compare-fail=usd:10%")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "ERROR: --aiusage-compare-fail='usd:10%' needs a baseline to compare with: add "
            "--aiusage-compare=NAME"
        ]
    )
