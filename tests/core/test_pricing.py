"""Pricing: our per-model rate cache agrees with genai-prices; overrides; tiers; batch."""

from __future__ import annotations

import logging
from decimal import Decimal

import genai_prices
import pytest
from hypothesis import given
from hypothesis import strategies as st

from aiusage_core import (
    ConfigurationError,
    CustomPrice,
    PriceQuery,
    ai_usage_context,
    configure,
    record_usage,
    settings,
)

MODELS = ["gpt-4o-mini", "gpt-4o", "gpt-4.1", "o3", "gpt-5-mini", "text-embedding-3-small"]


@st.composite
def queries(draw: st.DrawFn) -> PriceQuery:
    input_tokens = draw(st.integers(0, 2_000_000))
    output_tokens = draw(st.integers(0, 200_000))
    return PriceQuery(
        model=draw(st.sampled_from(MODELS)),
        provider="openai",
        api="chat",
        input_tokens=input_tokens,
        cached_input_tokens=draw(st.integers(0, input_tokens)),
        output_tokens=output_tokens,
        reasoning_tokens=draw(st.integers(0, output_tokens)),
        service_tier=draw(st.sampled_from([None, "default", "flex", "priority"])),
        batch=draw(st.booleans()),
    )


@given(queries())
def test_cached_rates_agree_with_genai_prices(q: PriceQuery) -> None:
    context = {}
    if q.service_tier not in (None, "default"):
        context["service_tier"] = q.service_tier
    if q.batch:
        context["processing"] = "batch"
    usage = genai_prices.Usage(
        input_tokens=q.input_tokens,
        cache_read_tokens=q.cached_input_tokens or None,
        output_tokens=q.output_tokens,
        output_reasoning_tokens=q.reasoning_tokens or None,
    )
    expected = genai_prices.calc_price(
        usage, q.model, provider_id="openai", price_context=context or None
    ).total_price
    assert settings().pricer.price(q) == expected


def test_service_tier_changes_the_price() -> None:
    # gpt-5-mini: standard $0.25/MTok input; flex $0.125; priority $0.45.
    q = {"model": "gpt-5-mini", "provider": "openai", "api": "chat", "input_tokens": 1_000_000}
    pricer = settings().pricer
    assert pricer.price(PriceQuery(**q)) == Decimal("0.25")
    assert pricer.price(PriceQuery(**q, service_tier="flex")) == Decimal("0.125")
    assert pricer.price(PriceQuery(**q, service_tier="priority")) == Decimal("0.45")


def test_override_prices_a_fine_tuned_model_by_pattern() -> None:
    with (
        configure(
            prices={
                "ft:gpt-4o-mini*": {
                    "input_mtok": "0.30",
                    "output_mtok": "1.20",
                    "cached_input_mtok": "0.15",
                }
            }
        ),
        ai_usage_context("ft"),
    ):
        record = record_usage(
            model="ft:gpt-4o-mini-2024-07-18:acme::abc123",
            input_tokens=1000,
            cached_input_tokens=400,
            output_tokens=100,
        )
    assert record.cost_usd == (
        600 * Decimal("0.30") + 400 * Decimal("0.15") + 100 * Decimal("1.20")
    ) / Decimal(1_000_000)


def test_override_beats_the_bundled_price_and_batch_multiplier_applies() -> None:
    with configure(
        prices={"gpt-4o-mini": CustomPrice(input_mtok=Decimal(1), output_mtok=Decimal(2))}
    ):
        q = PriceQuery(
            model="gpt-4o-mini",
            provider="openai",
            api="chat",
            input_tokens=1_000_000,
            output_tokens=1_000_000,
        )
        assert settings().pricer.price(q) == Decimal(3)
        batch = PriceQuery(
            model="gpt-4o-mini",
            provider="openai",
            api="chat",
            input_tokens=1_000_000,
            output_tokens=1_000_000,
            batch=True,
        )
        assert settings().pricer.price(batch) == Decimal("1.5")


@pytest.mark.parametrize(
    ("prices", "message"),
    [
        ({"m": {"input_mtok": "-1", "output_mtok": 1}}, "input_mtok='-1' must be finite"),
        ({"m": {"input_mtok": "x", "output_mtok": 1}}, "input_mtok='x' is not a number"),
        ({"m": {"output_mtok": 1}}, "needs input_mtok"),
        ({"m": {"input_mtok": 1, "output_mtok": 1, "typo": 1}}, "unknown field"),
        ({"m": 3}, "must be a CustomPrice or a mapping"),
    ],
)
def test_bad_overrides_name_the_model_and_field(prices: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        configure(prices=prices)  # type: ignore[arg-type]


def test_failing_price_resolver_is_logged_and_gives_unpriced(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def resolver(q: PriceQuery) -> Decimal | None:
        raise RuntimeError("pricing service down")

    with (
        caplog.at_level(logging.ERROR, logger="aiusage"),
        configure(price_resolver=resolver),
        ai_usage_context("r"),
    ):
        record = record_usage(model="gpt-4o-mini", input_tokens=10)
    assert record.cost_usd is None
    assert "pricing gpt-4o-mini" in caplog.text or "openai/gpt-4o-mini" in caplog.text


def test_price_resolver_result_is_used_and_none_falls_through() -> None:
    def resolver(q: PriceQuery) -> Decimal | None:
        return Decimal("0.5") if q.model == "house-model" else None

    with configure(price_resolver=resolver), ai_usage_context("r"):
        house = record_usage(model="house-model", input_tokens=10)
        mini = record_usage(model="gpt-4o-mini", input_tokens=1_000_000)
    assert house.cost_usd == Decimal("0.5")
    assert mini.cost_usd == Decimal("0.15")


def test_other_providers_are_priced_from_genai_prices() -> None:
    with ai_usage_context("anthropic"):
        record = record_usage(
            model="claude-3-5-haiku-latest",
            provider="anthropic",
            input_tokens=1_000_000,
            output_tokens=1_000_000,
        )
    expected = genai_prices.calc_price(
        genai_prices.Usage(input_tokens=1_000_000, output_tokens=1_000_000),
        "claude-3-5-haiku-latest",
        provider_id="anthropic",
    ).total_price
    assert record.cost_usd == expected
    assert record.cost_usd is not None
    assert record.cost_usd > 0


def test_custom_price_accepts_decimal_strings_and_rejects_bad_values() -> None:
    price = CustomPrice(input_mtok="0.30", output_mtok=1.2)  # type: ignore[arg-type]
    assert price.input_mtok == Decimal("0.30")
    assert price.output_mtok == Decimal("1.2")
    with pytest.raises(ConfigurationError, match="output_mtok='-2' must be finite"):
        CustomPrice(input_mtok=Decimal(1), output_mtok="-2")  # type: ignore[arg-type]
