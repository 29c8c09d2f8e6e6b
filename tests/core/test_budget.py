"""Budgets on contexts without any provider: the Budget value, the view, hand-made records."""

from __future__ import annotations

import logging
from decimal import Decimal

import pytest

from aiusage_core import (
    Budget,
    BudgetAmounts,
    BudgetExceededError,
    ConfigurationError,
    ContextError,
    _reservations,
    ai_usage_context,
    batch_ai_usage_context,
    record_usage,
)
from aiusage_core._estimate import CallEstimate
from aiusage_core._reservations import reserve


def test_budget_accepts_decimal_strings_and_numbers() -> None:
    assert Budget(usd="0.50").usd == Decimal("0.50")
    assert Budget(usd=1).usd == Decimal(1)
    assert Budget(usd=0.25).usd == Decimal("0.25")
    assert str(Budget(usd="0.5", calls=3)) == "usd=0.5, calls=3"
    assert Budget().hard
    assert not Budget(on_exceed="warn").hard


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"usd": "-1"}, "usd"),
        ({"usd": "lots"}, "usd"),
        ({"usd": "NaN"}, "usd"),
        ({"usd": True}, "usd"),
        ({"calls": -1}, "calls"),
        ({"tokens": 1.5}, "tokens"),
        ({"output_cap": 0}, "output_cap"),
        ({"output_cap": {"gpt-4o": 0}}, "output_cap"),
        ({"output_cap": {"gpt-4o": "100"}}, "output_cap"),
        ({"output_cap": {"": 100}}, "output_cap"),
        ({"on_exceed": "ignore"}, "on_exceed"),
        ({"refuse_unbounded": "yes"}, "refuse_unbounded"),
    ],
)
def test_budget_rejects_bad_values_naming_them(kwargs: dict[str, object], name: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        Budget(**kwargs)  # type: ignore[arg-type]
    assert caught.value.name == name
    assert f"Budget({name}=" in str(caught.value)


def test_output_cap_per_model() -> None:
    one = Budget(output_cap=500)
    assert one.cap_for("gpt-4o") == 500
    per_model = Budget(output_cap={"gpt-4o": 2000, "*": 300})
    assert per_model.cap_for("gpt-4o") == 2000
    assert per_model.cap_for("gpt-4o-mini") == 300
    assert Budget(output_cap={"gpt-4o": 2000}).cap_for("gpt-4o-mini") is None
    assert Budget().cap_for("gpt-4o") is None
    # A read-only copy: changing the caller's dict later changes nothing.
    caps = {"gpt-4o": 2000}
    budget = Budget(output_cap=caps)
    caps["gpt-4o"] = 1
    assert budget.cap_for("gpt-4o") == 2000
    with pytest.raises(TypeError):
        budget.output_cap["gpt-4o"] = 5  # type: ignore[index]
    # Still a value: equal budgets are equal and hash alike, mapping or not.
    assert budget == Budget(output_cap={"gpt-4o": 2000})
    assert hash(budget) == hash(Budget(output_cap={"gpt-4o": 2000}))
    assert budget.rules == Budget(output_cap={"gpt-4o": 2000}).rules
    assert budget.rules != Budget(output_cap=2000).rules


def test_a_context_without_a_budget_has_no_budget_view() -> None:
    with ai_usage_context("job") as job:
        assert job.budget is None


def test_a_budget_must_be_a_budget() -> None:
    with pytest.raises(ContextError, match=r"budget must be an aiusage_core\.Budget, not dict"):
        ai_usage_context("job", budget={"usd": 1})  # type: ignore[arg-type]


def test_hand_made_records_are_charged_on_every_budget_above_them() -> None:
    with ai_usage_context("job", budget=Budget(usd="1", tokens=1000)) as job:  # noqa: SIM117
        with batch_ai_usage_context("b1", budget=Budget(calls=5)) as batch:
            record_usage(model="gpt-4o-mini", input_tokens=100, output_tokens=20, cost_usd="0.1")
            record_usage(model="gpt-4o-mini", input_tokens=50, cost_usd="0.2")
    assert job.budget is not None
    assert batch.budget is not None
    assert job.budget.spent == BudgetAmounts(Decimal("0.3"), 170, 150, 20, 2)
    assert job.budget.remaining == BudgetAmounts(Decimal("0.7"), 830, None, None, None)
    assert job.budget.reserved == BudgetAmounts(Decimal(0), 0, 0, 0, 0)
    assert batch.budget.remaining.calls == 3
    assert not job.budget.exceeded


def test_a_record_over_the_limit_marks_the_budget_exceeded() -> None:
    with ai_usage_context("job", budget=Budget(calls=1)) as job:
        record_usage(model="gpt-4o-mini", cost_usd=0)
        assert job.budget is not None
        assert not job.budget.exceeded
        record_usage(model="gpt-4o-mini", cost_usd=0)
        assert job.budget.exceeded
        assert job.budget.remaining.calls == 0
    assert "exceeded=True" in repr(job.budget)


def test_a_worst_case_that_cannot_be_worked_out_is_refused_by_a_cost_limit(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    class BrokenRates:
        def get(self, *args: object) -> None:
            raise RuntimeError("price data unreadable")

    monkeypatch.setattr(_reservations, "_worst_rates", BrokenRates())
    call = CallEstimate("openai", "gpt-4o-mini", "chat", 10, 5)
    with ai_usage_context("job", budget=Budget(calls=2)) as job:
        reserve(job, call).release(None)  # a calls limit needs no worst case
    assert job.budget is not None
    assert job.budget.spent.calls == 1
    with (
        caplog.at_level(logging.ERROR, logger="aiusage"),
        ai_usage_context("job", budget=Budget(usd=1)) as capped,
        pytest.raises(BudgetExceededError) as refused,
    ):
        reserve(capped, call)
    assert str(refused.value) == (
        "AI budget of context 'job' refused a call before sending it (openai chat call to "
        "gpt-4o-mini (output cap 5)): its worst case cannot be bounded under the usd limit "
        "$1.00: working out its worst case failed (logged on the aiusage logger); spent "
        "$0.00, reserved by calls in flight $0.00"
    )
    assert refused.value.requested is None
    assert "working out the worst case of a call failed" in caplog.text
    assert "price data unreadable" in caplog.text
