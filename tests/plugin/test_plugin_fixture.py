"""The ``ai_usage`` fixture: the test's usage context and its assertion helpers."""

from __future__ import annotations

import pytest

HEADER = "import pytest\nfrom aiusage_core import record_usage\n"


def test_ai_usage_is_the_tests_context_including_function_fixture_setup(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        test_view=HEADER
        + """
from decimal import Decimal
from aiusage_core import UsageContext, ai_usage_context
from pytest_aiusage import AIUsage, Budget

@pytest.fixture
def warmed():
    record_usage(model="gpt-4o", input_tokens=1000, output_tokens=100)

@pytest.mark.ai_budget(usd=1, calls=5)
def test_view(warmed, ai_usage):
    assert isinstance(ai_usage, AIUsage)
    assert isinstance(ai_usage.context, UsageContext)
    assert ai_usage.nodeid == "test_view.py::test_view"
    assert ai_usage.context.path == ("test_view.py::test_view",)
    with ai_usage_context("inner"):
        record_usage(model="gpt-4o-mini", input_tokens=2000, cached_input_tokens=500,
                     output_tokens=100)
    record_usage(model="gpt-4o-mini", input_tokens=1000, output_tokens=500)
    totals = ai_usage.totals
    assert (totals.calls, totals.input_tokens, totals.cached_input_tokens,
            totals.output_tokens) == (3, 4000, 500, 700)
    # gpt-4o 0.0025 + 0.001; gpt-4o-mini 1,500 x 0.15 + 500 x 0.075 + 100 x 0.60 per million
    # = 0.0003225, and 0.00045
    assert totals.cost_usd == Decimal("0.0042725")
    assert [r.context_path for r in ai_usage.records] == [
        ("test_view.py::test_view",),
        ("test_view.py::test_view", "inner"),
        ("test_view.py::test_view",),
    ]
    assert ai_usage.calls_by_model() == {"gpt-4o": 1, "gpt-4o-mini": 2}
    assert ai_usage.by_model()["gpt-4o-mini"].cost_usd == Decimal("0.0007725")
    assert ai_usage.budget == Budget(usd=Decimal(1), calls=5)
    assert repr(ai_usage) == (
        "<AIUsage 'test_view.py::test_view' calls=3 tokens=4700 cost=$0.0042725>"
    )
"""
    )
    pytester.runpytest().assert_outcomes(passed=1)


def test_assertion_helpers_pass_when_usage_is_as_asserted(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_pass=HEADER
        + """
from decimal import Decimal
from aiusage_core import ai_usage_context

def test_helpers(ai_usage):
    ai_usage.assert_calls(0)
    with ai_usage_context("batch", job_id="j-1", tags={"team": "ocr"}):
        record_usage(model="gpt-4o-mini", input_tokens=1000, output_tokens=500)
        record_usage(model="gpt-4o", input_tokens=10, output_tokens=1)
    ai_usage.assert_calls(2)
    ai_usage.assert_calls(1, model="gpt-4o")
    ai_usage.assert_calls(0, model="o3")
    # 0.00045 + gpt-4o 10 x 2.50 + 1 x 10.00 per million = 0.000485
    ai_usage.assert_cost_below(Decimal("0.000486"))
    ai_usage.assert_cost_below("0.0004851")
    ai_usage.assert_tokens_below(1512)
    ai_usage.assert_propagated(job_id="j-1", tags={"team": "ocr"})
"""
    )
    pytester.runpytest().assert_outcomes(passed=1)


def test_assertion_helpers_fail_with_the_figures_and_the_calls(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_fail=HEADER
        + """
def call():
    record_usage(model="gpt-4o-mini", input_tokens=1000, output_tokens=500)

def test_calls(ai_usage):
    call()
    ai_usage.assert_calls(2)

def test_calls_of_model(ai_usage):
    call()
    ai_usage.assert_calls(1, model="gpt-4o")

def test_cost(ai_usage):
    call()
    ai_usage.assert_cost_below(0.00045)

def test_cost_unpriced(ai_usage):
    record_usage(model="my-private-model", input_tokens=10, output_tokens=1)
    ai_usage.assert_cost_below(1)

def test_tokens(ai_usage):
    call()
    ai_usage.assert_tokens_below(1500)
"""
    )
    result = pytester.runpytest()
    result.assert_outcomes(failed=5)
    calls = "(1 call: gpt-4o-mini 1,000 in / 500 out $0.00045)"
    result.stdout.fnmatch_lines(
        [
            "*_ test_calls _*",
            ">       ai_usage.assert_calls(2)",
            f"E       AssertionError: expected 2 AI calls, got 1 {calls}",
            "*_ test_calls_of_model _*",
            f"E       AssertionError: expected 1 AI call of gpt-4o, got 0 {calls}",
            "*_ test_cost _*",
            f"E       AssertionError: AI cost $0.00045 is not below $0.00045 {calls}",
            "*_ test_cost_unpriced _*",
            "E       AssertionError: cannot check the AI cost against $1.00: 1 call without a "
            "known price (1 call: my-private-model 10 in / 1 out unknown); price the model with "
            "the pytest_aiusage_price hook or aiusage_core.configure(prices=...)",
            "*_ test_tokens _*",
            f"E       AssertionError: AI tokens 1,500 are not below 1,500 {calls}",
        ]
    )
    # __tracebackhide__: the traceback ends at the user's line, not inside the plugin.
    result.stdout.no_fnmatch_line("*_fixture.py*")


def test_assert_propagated_lists_every_call_that_did_not_carry_the_values(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        test_propagated=HEADER
        + """
import threading
from aiusage_core import ai_usage_context

def test_lost_in_places(ai_usage):
    with ai_usage_context("batch", job_id="j-1"):
        record_usage(model="gpt-4o-mini", input_tokens=10, output_tokens=5)
    record_usage(model="gpt-4o-mini", input_tokens=10, output_tokens=5)
    with ai_usage_context("other", job_id="j-2"):
        record_usage(model="gpt-4o", input_tokens=10, output_tokens=5)
    ai_usage.assert_propagated(job_id="j-1")

def test_no_calls(ai_usage):
    ai_usage.assert_propagated(job_id="j-1")
"""
    )
    result = pytester.runpytest()
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(
        [
            "E       AssertionError: 2 of 3 AI calls did not carry job_id='j-1':",
            "E         call 2: gpt-4o-mini in test_propagated.py::test_lost_in_places: "
            "job_id missing",
            "E         call 3: gpt-4o in test_propagated.py::test_lost_in_places/other: "
            "job_id='j-2'",
            "E       AssertionError: no AI calls were made, so none carried job_id='j-1'",
        ]
    )


def test_helpers_reject_bad_arguments_at_once(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_misuse="""
import pytest
from aiusage_core import ConfigurationError

def test_misuse(ai_usage):
    with pytest.raises(ConfigurationError, match=r"assert_calls\\(expected\\)=-1 must not be"):
        ai_usage.assert_calls(-1)
    with pytest.raises(ConfigurationError, match=r"assert_cost_below\\(usd\\)='free' is not"):
        ai_usage.assert_cost_below("free")
    with pytest.raises(ConfigurationError, match=r"assert_tokens_below\\(tokens\\)=True must"):
        ai_usage.assert_tokens_below(True)
    with pytest.raises(ConfigurationError, match=r"needs at least one key=value"):
        ai_usage.assert_propagated()
"""
    )
    pytester.runpytest().assert_outcomes(passed=1)


def test_assert_calls_of_a_model_counts_its_dated_snapshots_unless_exact(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        test_snapshots="""
from aiusage_core import record_usage

def test_snapshots(ai_usage):
    record_usage(model="gpt-4o-mini-2024-07-18", input_tokens=10)
    record_usage(model="gpt-4o-mini", input_tokens=10)
    record_usage(model="gpt-4o-2024-08-06", input_tokens=10)
    ai_usage.assert_calls(2, model="gpt-4o-mini")
    ai_usage.assert_calls(1, model="gpt-4o")
    ai_usage.assert_calls(1, model="gpt-4o-mini", exact_model=True)
    ai_usage.assert_calls(1, model="gpt-4o-mini-2024-07-18")

def test_exact(ai_usage):
    record_usage(model="gpt-4o-mini-2024-07-18", input_tokens=10)
    ai_usage.assert_calls(1, model="gpt-4o-mini", exact_model=True)
"""
    )
    result = pytester.runpytest()
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "E       AssertionError: expected 1 AI call of gpt-4o-mini (exactly), got 0 "
            "(1 call: gpt-4o-mini-2024-07-18 10 in / 0 out $0.0000015)"
        ]
    )


def test_a_bad_helper_argument_points_at_the_users_line_and_names_public_types(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        test_misuse="""
def test_misuse(ai_usage):
    ai_usage.assert_cost_below("free")
"""
    )
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            '>       ai_usage.assert_cost_below("free")',
            "E       aiusage_core.ConfigurationError: assert_cost_below(usd)='free' is not a "
            "number",
            "test_misuse.py:2: ConfigurationError",
        ]
    )
    output = result.stdout.str()
    assert "_budget.py" not in output
    assert "_fixture.py" not in output
    assert "aiusage_core._errors" not in output
