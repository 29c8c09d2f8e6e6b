"""The one money formatter: exact, the same decimals within a table, unknown never $0."""

from __future__ import annotations

from decimal import Decimal

from aiusage_core import UsageContext, UsageTotals, record_usage
from aiusage_core._money import (
    cost_column,
    cost_text,
    decimal_str,
    decimals,
    usd,
    usd_column,
    usd_each,
)


def test_an_amount_is_written_exactly_with_at_least_two_decimals() -> None:
    assert usd(Decimal("0.00008715")) == "$0.00008715"
    assert usd(Decimal("12")) == "$12.00"
    assert usd(Decimal("0.5")) == "$0.50"
    assert usd(Decimal("1.5E-7")) == "$0.00000015"
    assert usd(Decimal("-0.25")) == "-$0.25"
    assert usd(Decimal("0.25"), sign=True) == "+$0.25"
    assert usd(Decimal(0), sign=True) == "$0.00"


def test_unknown_is_written_unknown_never_zero() -> None:
    assert usd(None) == "unknown"
    unpriced = UsageTotals(calls=2, unpriced_calls=2)
    assert cost_text(unpriced) == "unknown"
    partly = UsageTotals(calls=3, cost_usd=Decimal("0.0012"), unpriced_calls=1)
    assert cost_text(partly) == "$0.0012 + unknown (1 call)"
    assert cost_text(UsageTotals()) == "$0.00"


def test_a_column_has_one_number_of_decimals_and_aligns_on_the_point() -> None:
    # The example: $0.000084 printed trimmed looked smaller than $0.00004665.
    column = usd_column([Decimal("0.000084"), Decimal("0.00004665"), Decimal("12.5"), None])
    assert column == [" $0.00008400", " $0.00004665", "$12.50000000", "     unknown"]
    assert {c.index(".") for c in column[:3]} == {3}
    assert [Decimal(c.strip().lstrip("$")) for c in column[:3]] == [
        Decimal("0.000084"),
        Decimal("0.00004665"),
        Decimal("12.5"),
    ]


def test_the_amounts_of_a_sentence_share_their_decimals() -> None:
    assert usd_each([Decimal("0.00008715"), Decimal("0.00005")]) == ["$0.00008715", "$0.00005000"]
    assert decimals([None, Decimal("0.1")]) == 2


def test_cost_column_notes_partly_unknown_totals_after_the_aligned_amount() -> None:
    rows = [
        UsageTotals(calls=1, cost_usd=Decimal("0.0035")),
        UsageTotals(calls=2, cost_usd=Decimal("0.00045"), unpriced_calls=1),
        UsageTotals(calls=1, unpriced_calls=1),
    ]
    assert cost_column(rows) == [
        "$0.00350                   ",
        "$0.00045 + unknown (1 call)",
        " unknown                   ",
    ]


def test_decimal_str_is_plain_notation_for_json() -> None:
    assert decimal_str(Decimal("1.5E-7")) == "0.00000015"
    assert decimal_str(Decimal("0.00450")) == "0.0045"
    assert decimal_str(Decimal("-0")) == "0"


def test_context_repr_says_unknown_for_a_cost_it_does_not_know() -> None:
    with UsageContext("job") as context:
        record_usage(model="my-private-model", input_tokens=10, output_tokens=1)
    assert repr(context) == "<UsageContext 'job' closed calls=1 tokens=11 cost=unknown>"
