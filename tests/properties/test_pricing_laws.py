"""Pricing laws over the configured pricer, for several OpenAI models: more tokens never cost
less, cached tokens never cost more than uncached ones, the Batch API is never dearer, and
a cost is ``None`` exactly when the model has no known price."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from aiusage_core import PriceQuery, settings
from pytest_aiusage.strategies import UNKNOWN_MODELS

CHAT_MODELS = ["gpt-4o", "gpt-4o-mini", "gpt-4.1", "gpt-4.1-nano", "o3-mini", "o4-mini", "gpt-5"]
EMBEDDING_MODELS = ["text-embedding-3-small", "text-embedding-3-large"]
MODELS = CHAT_MODELS + EMBEDDING_MODELS

counts = st.integers(0, 5_000_000)
# The four independent amounts a query is made of; input_tokens and output_tokens include
# the cached and reasoning ones, as OpenAI reports them.
PARTS = ("uncached", "cached", "plain_output", "reasoning")


@dataclasses.dataclass(frozen=True)
class Tokens:
    uncached: int
    cached: int
    plain_output: int
    reasoning: int

    def query(self, model: str, *, batch: bool = False) -> PriceQuery:
        return PriceQuery(
            model=model,
            provider="openai",
            api="embeddings" if model in EMBEDDING_MODELS else "chat",
            input_tokens=self.uncached + self.cached,
            cached_input_tokens=self.cached,
            output_tokens=self.plain_output + self.reasoning,
            reasoning_tokens=self.reasoning,
            batch=batch,
        )


tokens = st.builds(Tokens, counts, counts, counts, counts)


def cost(model: str, amounts: Tokens, *, batch: bool = False) -> Decimal:
    price = settings().pricer.price(amounts.query(model, batch=batch))
    assert price is not None, model
    return price


@given(st.sampled_from(MODELS), tokens, st.sampled_from(PARTS), st.integers(1, 5_000_000))
def test_cost_is_monotone_in_every_token_count(
    model: str, amounts: Tokens, part: str, extra: int
) -> None:
    more = dataclasses.replace(amounts, **{part: getattr(amounts, part) + extra})
    assert cost(model, more) >= cost(model, amounts)
    assert cost(model, more, batch=True) >= cost(model, amounts, batch=True)


@given(st.sampled_from(MODELS), tokens, st.integers(0, 5_000_000), st.booleans())
def test_moving_tokens_from_uncached_to_cached_never_raises_the_cost(
    model: str, amounts: Tokens, moved: int, batch: bool
) -> None:
    moved = min(moved, amounts.uncached)
    cached_more = dataclasses.replace(
        amounts, uncached=amounts.uncached - moved, cached=amounts.cached + moved
    )
    assert cost(model, cached_more, batch=batch) <= cost(model, amounts, batch=batch)


@given(st.sampled_from(CHAT_MODELS), counts.filter(lambda n: n > 0))
def test_cached_input_is_strictly_cheaper_for_models_with_a_cache_discount(
    model: str, n: int
) -> None:
    all_cached = Tokens(uncached=0, cached=n, plain_output=0, reasoning=0)
    none_cached = Tokens(uncached=n, cached=0, plain_output=0, reasoning=0)
    assert cost(model, all_cached) < cost(model, none_cached)


@given(st.sampled_from(MODELS), tokens)
def test_batch_is_never_dearer_than_standard(model: str, amounts: Tokens) -> None:
    assert cost(model, amounts, batch=True) <= cost(model, amounts)


@given(st.sampled_from(MODELS), tokens, st.booleans())
def test_known_models_always_have_a_non_negative_cost(
    model: str, amounts: Tokens, batch: bool
) -> None:
    assert cost(model, amounts, batch=batch) >= 0
    assert cost(model, Tokens(0, 0, 0, 0), batch=batch) == 0


unknown_models = st.sampled_from(UNKNOWN_MODELS) | st.integers(0, 10**9).map(
    lambda n: f"acme-llm-{n}"
)


@given(unknown_models, tokens, st.booleans())
def test_unknown_models_cost_none_never_zero(model: str, amounts: Tokens, batch: bool) -> None:
    assert settings().pricer.price(amounts.query(model, batch=batch)) is None
