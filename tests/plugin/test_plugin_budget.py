"""``@pytest.mark.ai_budget``: failing tests over budget, precedence, bad arguments."""

from __future__ import annotations

from collections.abc import Callable

import pytest

HEADER = "import pytest\nfrom aiusage_core import record_usage\n"


def test_passing_test_over_its_usd_budget_fails_naming_limit_figure_and_calls(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        test_cost=HEADER
        + """
@pytest.mark.ai_budget(usd=0.0004)
def test_summarise():
    record_usage(model="gpt-4o-mini", input_tokens=1000, output_tokens=500)
"""
    )
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*_ test_summarise _*",
            "AI budget exceeded: cost $0.00045 > limit $0.00040",
            "spent by operation and model (biggest first):",
            "  $0.00045     1 call     1,000 in       500 out  (test)  gpt-4o-mini  "
            "<- call 1 crossed the cost limit",
            "calls that crossed a limit:",
            "  cost: call 1 at *, (test), gpt-4o-mini, 1,000 in / 500 out, $0.00045",
            "budget: usd=0.0004 (usd from @pytest.mark.ai_budget on test_cost.py::test_summarise)",
            "FAILED test_cost.py::test_summarise - AI budget exceeded*",
        ]
    )


def test_usage_exactly_at_the_limit_is_within_budget(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_exact=HEADER
        + """
@pytest.mark.ai_budget(usd="0.00045", tokens=1500, input_tokens=1000, output_tokens=500, calls=1)
def test_at_limit():
    record_usage(model="gpt-4o-mini", input_tokens=1000, output_tokens=500)
"""
    )
    pytester.runpytest().assert_outcomes(passed=1)


def test_every_limit_that_is_exceeded_is_named_with_its_figure(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_limits=HEADER
        + """
@pytest.mark.ai_budget(tokens=2000, input_tokens=1999, output_tokens=400, calls=1)
def test_two_calls():
    record_usage(model="gpt-4o-mini", input_tokens=1000, output_tokens=500)
    record_usage(model="gpt-4o", input_tokens=1000, output_tokens=100)
"""
    )
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    # gpt-4o: 1,000 x 2.50 + 100 x 10.00 per million = 0.0025 + 0.001 = $0.0035
    result.stdout.fnmatch_lines(
        [
            "AI budget exceeded: tokens 2,600 > limit 2,000, input tokens 2,000 > limit 1,999, "
            "output tokens 600 > limit 400, calls 2 > limit 1",
            "spent by operation and model (biggest first):",
            "  $0.00350     1 call     1,000 in       100 out  (test)  gpt-4o  <- call 2 crossed "
            "the tokens, input tokens and calls limit",
            "  $0.00045     1 call     1,000 in       500 out  (test)  gpt-4o-mini  <- call 1 "
            "crossed the output tokens limit",
            "calls that crossed a limit:",
            "  output tokens: call 1 at *, (test), gpt-4o-mini, 1,000 in / 500 out, $0.00045",
            "  tokens, input tokens and calls: call 2 at *, (test), gpt-4o, 1,000 in / 100 out, "
            "$0.00350",
        ]
    )


def test_calls_of_one_model_are_counted_together_in_the_message(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_repeat=HEADER
        + """
@pytest.mark.ai_budget(calls=2)
def test_three_calls():
    for _ in range(3):
        record_usage(model="gpt-4o-mini", input_tokens=1000, output_tokens=500)
"""
    )
    result = pytester.runpytest()
    result.stdout.fnmatch_lines(
        [
            "AI budget exceeded: calls 3 > limit 2",
            "spent by operation and model (biggest first):",
            "  $0.00135    3 calls     3,000 in     1,500 out  (test)  gpt-4o-mini  "
            "<- call 3 crossed the calls limit",
        ]
    )


def test_nearest_marker_wins_limit_by_limit(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_nearest=HEADER
        + """
pytestmark = pytest.mark.ai_budget(usd=1, calls=1)

class TestSuite:
    pytestmark = pytest.mark.ai_budget(calls=3)

    def test_class_calls_module_usd(self):
        record_usage(model="gpt-4o-mini", input_tokens=1000, output_tokens=500)
        record_usage(model="gpt-4o-mini", input_tokens=1000, output_tokens=500)

    @pytest.mark.ai_budget(usd=0.0001)
    def test_own_usd_class_calls(self):
        record_usage(model="gpt-4o-mini", input_tokens=1000, output_tokens=500)

def test_module_calls():
    record_usage(model="gpt-4o-mini", input_tokens=1000, output_tokens=500)
    record_usage(model="gpt-4o-mini", input_tokens=1000, output_tokens=500)
"""
    )
    result = pytester.runpytest("-rA")
    result.assert_outcomes(passed=1, failed=2)
    result.stdout.fnmatch_lines(
        [
            "*_ TestSuite.test_own_usd_class_calls _*",
            "AI budget exceeded: cost $0.00045 > limit $0.00010",
            "budget: usd=0.0001, calls=3 (usd from @pytest.mark.ai_budget on "
            "test_nearest.py::TestSuite::test_own_usd_class_calls; "
            "calls from @pytest.mark.ai_budget on test_nearest.py::TestSuite)",
            "*_ test_module_calls _*",
            "AI budget exceeded: calls 2 > limit 1",
            "budget: usd=1, calls=1 (usd, calls from @pytest.mark.ai_budget on test_nearest.py)",
            "PASSED test_nearest.py::TestSuite::test_class_calls_module_usd",
        ]
    )


DEFAULTS_TESTS = (
    HEADER
    + """
def test_default():
    record_usage(model="gpt-4o-mini", input_tokens=1000, output_tokens=500)

@pytest.mark.ai_budget(usd=0.0002)
def test_marker():
    record_usage(model="gpt-4o-mini", input_tokens=1000, output_tokens=500)
"""
)


def test_ini_default_budget_applies_to_tests_without_a_marker(
    pytester: pytest.Pytester, write_ini: Callable[[str], None]
) -> None:
    write_ini("aiusage_default_budget = usd=0.0001, calls=5")
    pytester.makepyfile(test_defaults=DEFAULTS_TESTS)
    result = pytester.runpytest()
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(
        [
            "*_ test_default _*",
            "AI budget exceeded: cost $0.00045 > limit $0.00010",
            "budget: usd=0.0001, calls=5 (usd, calls from ini aiusage_default_budget)",
            "*_ test_marker _*",
            "AI budget exceeded: cost $0.00045 > limit $0.00020",
            "budget: usd=0.0002, calls=5 (usd from @pytest.mark.ai_budget on "
            "test_defaults.py::test_marker; calls from ini aiusage_default_budget)",
        ]
    )


def test_marker_beats_command_line_which_beats_ini(
    pytester: pytest.Pytester, write_ini: Callable[[str], None]
) -> None:
    write_ini("aiusage_default_budget = usd=0.0001, calls=5")
    pytester.makepyfile(test_defaults=DEFAULTS_TESTS)
    result = pytester.runpytest("--aiusage-default-budget=usd=0.001", "-rA")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*_ test_marker _*",
            "AI budget exceeded: cost $0.00045 > limit $0.00020",
            "budget: usd=0.0002, calls=5 (usd from @pytest.mark.ai_budget on "
            "test_defaults.py::test_marker; calls from ini aiusage_default_budget)",
            "PASSED test_defaults.py::test_default",
        ]
    )


def test_none_lifts_a_limit_set_further_out(
    pytester: pytest.Pytester, write_ini: Callable[[str], None]
) -> None:
    write_ini("aiusage_default_budget = calls=1")
    pytester.makepyfile(
        test_lift=HEADER
        + """
@pytest.mark.ai_budget(calls=None)
def test_many_calls():
    for _ in range(3):
        record_usage(model="gpt-4o-mini", input_tokens=10, output_tokens=5)
"""
    )
    pytester.runpytest().assert_outcomes(passed=1)
    pytester.runpytest("--aiusage-default-budget=calls=none").assert_outcomes(passed=1)


def test_strict_markers_accepts_ai_budget(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_strict_markers="""
import pytest

@pytest.mark.ai_budget(usd=0.01)
def test_marked():
    pass
"""
    )
    pytester.runpytest("--strict-markers").assert_outcomes(passed=1)
    result = pytester.runpytest("--markers")
    result.stdout.fnmatch_lines(["@pytest.mark.ai_budget(usd=None, tokens=None, *"])


BAD_MARKERS = {
    "negative": ("usd=-1", "usd=-1 must be a finite, non-negative number of US dollars"),
    "nan": ("usd=float('nan')", "usd=nan must be a finite, non-negative number of US dollars"),
    "inf": ("usd=float('inf')", "usd=inf must be a finite, non-negative number of US dollars"),
    "non_numeric": ("usd='cheap'", "usd='cheap' is not a number"),
    "bool": (
        "usd=True",
        "usd=True must be a number of US dollars (a Decimal, int, float or decimal string), "
        "not bool",
    ),
    "fraction_of_call": ("calls=1.5", "calls=1.5 must be a finite whole number"),
    "negative_tokens": ("tokens=-3", "tokens=-3 must not be negative"),
    "unknown_keyword": (
        "cost=1",
        "unknown limit 'cost'; expected one of usd, tokens, input_tokens, output_tokens, calls",
    ),
    "positional": (
        "0.01",
        "takes keyword arguments only (usd=, tokens=, input_tokens=, output_tokens=, calls=), "
        "got positional argument(s) 0.01",
    ),
    "empty": ("", "sets no limit; give at least one of usd, tokens, input_tokens, *"),
}


def test_bad_marker_arguments_error_naming_the_test_and_the_argument(
    pytester: pytest.Pytester,
) -> None:
    source = "import pytest\n"
    for name, (args, _) in BAD_MARKERS.items():
        source += f"\n@pytest.mark.ai_budget({args})\ndef test_{name}():\n    pass\n"
    pytester.makepyfile(test_bad=source)
    result = pytester.runpytest()
    result.assert_outcomes(errors=len(BAD_MARKERS))
    result.stdout.fnmatch_lines(
        [
            line
            for name, (_, message) in BAD_MARKERS.items()
            for line in (
                f"*_ ERROR at setup of test_{name} _*",
                f"@pytest.mark.ai_budget on test_bad.py::test_{name}: {message}",
            )
        ]
    )
    result.stdout.no_fnmatch_line("*During handling*")


def test_bad_module_marker_names_each_test_it_applies_to(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_module_bad="""
import pytest

pytestmark = pytest.mark.ai_budget(calls=-1)

def test_one():
    pass

def test_two():
    pass
"""
    )
    result = pytester.runpytest()
    result.assert_outcomes(errors=2)
    result.stdout.fnmatch_lines(
        [
            "@pytest.mark.ai_budget on test_module_bad.py (applying to "
            "test_module_bad.py::test_one): calls=-1 must not be negative",
            "@pytest.mark.ai_budget on test_module_bad.py (applying to "
            "test_module_bad.py::test_two): calls=-1 must not be negative",
        ]
    )


UNPRICED = (
    HEADER
    + """
@pytest.mark.ai_budget(usd=0.01)
def test_private_model():
    record_usage(model="my-private-model", input_tokens=100, output_tokens=10)

@pytest.mark.ai_budget(calls=1)
def test_no_usd_limit():
    record_usage(model="my-private-model", input_tokens=100, output_tokens=10)
"""
)
UNPRICED_MESSAGE = (
    "AI budget cannot be verified: 1 call without a known price under a cost limit of $0.01 "
    "(1 call: my-private-model 100 in / 10 out unknown)"
)


def test_unpriced_calls_under_a_usd_limit_fail_by_default(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_unpriced=UNPRICED)
    result = pytester.runpytest()
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*_ test_private_model _*",
            f"{UNPRICED_MESSAGE}; price the model with the pytest_aiusage_price hook or "
            "aiusage_core.configure(prices=...), or pass --aiusage-unpriced=warn or ignore",
        ]
    )


def test_a_stream_without_usage_is_named_usage_not_reported_with_the_fix(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        test_stream="""
import pytest


@pytest.mark.fake_openai
@pytest.mark.ai_budget(usd=0.01)
def test_stream(openai_client):
    stream = openai_client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}], stream=True
    )
    assert "".join(c.choices[0].delta.content or "" for c in stream) == "Echo: hi"
"""
    )
    # In a subprocess: the HTTP stack imported in-process would be forgotten after the run,
    # and imported again later, with exception classes httpx2 no longer recognises.
    result = pytester.runpytest_subprocess()
    result.assert_outcomes(failed=1)
    # A priced model: the cause is the missing usage, filed under the model that served it.
    result.stdout.fnmatch_lines(
        [
            "AI budget cannot be verified: 1 call whose usage was not reported under a cost "
            "limit of $0.01 (1 call: gpt-4o-mini-2024-07-18 0 in / 0 out unknown); the "
            "response carried no usage: a stream reports it only when asked, so wrap the "
            "client with wrap_openai(client, stream_usage=True) or pass "
            'stream_options={"include_usage": True}, and read the stream to its end, or pass '
            "--aiusage-unpriced=warn or ignore",
        ]
    )
    result.stdout.no_fnmatch_line("*price the model*")


def test_unpriced_warn_passes_and_says_so_in_the_summary(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_unpriced=UNPRICED)
    result = pytester.runpytest("--aiusage-unpriced=warn")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(
        [f"warning: test_unpriced.py::test_private_model: {UNPRICED_MESSAGE}"]
    )


def test_unpriced_ignore_from_ini_passes_silently(
    pytester: pytest.Pytester, write_ini: Callable[[str], None]
) -> None:
    write_ini("aiusage_unpriced = ignore")
    pytester.makepyfile(test_unpriced=UNPRICED)
    result = pytester.runpytest()
    result.assert_outcomes(passed=2)
    result.stdout.no_fnmatch_line("warning:*")


def test_usage_in_a_function_fixture_counts_toward_the_test(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_fixture_usage=HEADER
        + """
@pytest.fixture
def warmed():
    record_usage(model="gpt-4o-mini", input_tokens=1000, output_tokens=500)

@pytest.mark.ai_budget(calls=1)
def test_uses_fixture(warmed):
    record_usage(model="gpt-4o-mini", input_tokens=1000, output_tokens=500)
"""
    )
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "AI budget exceeded: calls 2 > limit 1",
            "spent by operation and model (biggest first):",
            "  $0.00090    2 calls     2,000 in     1,000 out  (test)  gpt-4o-mini  "
            "<- call 2 crossed the calls limit",
        ]
    )


def test_usage_in_function_fixture_teardown_fails_the_teardown(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_teardown=HEADER
        + """
@pytest.fixture
def cleanup():
    yield
    record_usage(model="gpt-4o-mini", input_tokens=1000, output_tokens=500)

@pytest.mark.ai_budget(calls=1)
def test_one_call_then_teardown(cleanup):
    record_usage(model="gpt-4o-mini", input_tokens=1000, output_tokens=500)
"""
    )
    result = pytester.runpytest()
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*_ ERROR at teardown of test_one_call_then_teardown _*",
            "AI budget exceeded: calls 2 > limit 1",
            "spent by operation and model (biggest first):",
            "  $0.00090    2 calls     2,000 in     1,000 out  (test)  gpt-4o-mini  "
            "<- call 2 crossed the calls limit",
        ]
    )


def test_a_failing_test_over_budget_keeps_its_failure_and_adds_the_budget(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        test_both=HEADER
        + """
@pytest.mark.ai_budget(calls=0)
def test_fails_anyway():
    record_usage(model="gpt-4o-mini", input_tokens=1000, output_tokens=500)
    assert 1 == 2
"""
    )
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "E       assert 1 == 2",
            "*- AI usage -*",
            "AI budget exceeded: calls 1 > limit 0",
            "FAILED test_both.py::test_fails_anyway - assert 1 == 2",
        ]
    )


def test_a_skipped_test_over_budget_is_reported_not_failed(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_skip=HEADER
        + """
@pytest.mark.ai_budget(calls=0)
def test_skips_after_a_call():
    record_usage(model="gpt-4o-mini", input_tokens=1000, output_tokens=500)
    pytest.skip("no key")
"""
    )
    result = pytester.runpytest()
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(
        [
            "warning: test_skip.py::test_skips_after_a_call: AI budget exceeded: calls 1 > "
            "limit 0 (the test was skipped, so it was not failed)",
        ]
    )


def test_an_expected_budget_failure_is_an_xfail_and_an_unexpected_pass_is_not(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        test_xfail=HEADER
        + """
@pytest.mark.xfail(reason="goes over its budget on purpose", strict=True)
@pytest.mark.ai_budget(usd=0.0004)
def test_over():
    record_usage(model="gpt-4o-mini", input_tokens=1000, output_tokens=500)


@pytest.mark.xfail(reason="expected to go over", strict=True)
@pytest.mark.ai_budget(usd=0.01)
def test_within():
    record_usage(model="gpt-4o-mini", input_tokens=1000, output_tokens=500)
"""
    )
    result = pytester.runpytest("-rxX")
    result.assert_outcomes(xfailed=1, failed=1)
    result.stdout.fnmatch_lines(
        ["XFAIL test_xfail.py::test_over - goes over its budget on purpose"]
    )
    result.stdout.fnmatch_lines(["[[]XPASS(strict)[]] expected to go over"])
