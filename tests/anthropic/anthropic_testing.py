"""Constants and helpers shared by the Anthropic integration tests (imported by name: the
folder has no ``__init__.py``, so pytest puts it on ``sys.path``)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import anthropic
import genai_prices

from aiusage_core import UsageContext, UsageRecord
from pytest_aiusage.fake_openai import FakeAnthropic

API_KEY = "sk-ant-test-aiusage-0123456789"
HAIKU = "claude-haiku-4-5"  # not deprecated by the SDK; priced by genai-prices
SONNET = "claude-sonnet-4-5"

HELLO: list[Any] = [{"role": "user", "content": "Hello, world!"}]

# Anthropic's own shape: input_tokens excludes the cache reads and writes beside it.
CACHED_USAGE: dict[str, Any] = {
    "input_tokens": 12,
    "cache_creation_input_tokens": 300,
    "cache_read_input_tokens": 2000,
    "cache_creation": {"ephemeral_5m_input_tokens": 100, "ephemeral_1h_input_tokens": 200},
    "output_tokens": 40,
    "server_tool_use": {"web_search_requests": 2, "web_fetch_requests": 0},
    "service_tier": "standard",
}
# Normalised: input includes the cache (12 + 2000 + 300).
CACHED_COUNTS = {
    "input_tokens": 2312,
    "cached_input_tokens": 2000,
    "cache_write_tokens": 300,
    "cache_write_1h_tokens": 200,
    "output_tokens": 40,
    "reasoning_tokens": 0,
    "web_search_requests": 2,
}
# Priced by hand from claude-haiku-4-5's rates as genai-prices carries them: $1/MTok input,
# $0.10 cache read, $1.25 5-minute cache write, $2 one-hour cache write, $5 output, $10 per
# thousand web searches: 12*1 + 2000*0.1 + 100*1.25 + 200*2 + 40*5 (per 1e6) + 2*10/1000.
CACHED_HAIKU_COST = Decimal("0.020937")


def genai_cost(
    counts: dict[str, int], model: str = HAIKU, provider: str = "anthropic", **context: str
) -> Decimal:
    """What genai-prices says ``counts`` (normalised, our names) cost, computed here."""
    usage = genai_prices.Usage(
        input_tokens=counts.get("input_tokens", 0),
        cache_read_tokens=counts.get("cached_input_tokens", 0),
        cache_write_tokens=counts.get("cache_write_tokens", 0),
        cache_write_1h_tokens=counts.get("cache_write_1h_tokens", 0),
        output_tokens=counts.get("output_tokens", 0),
        web_searches=counts.get("web_search_requests", 0),
    )
    price = genai_prices.calc_price(
        usage, model, provider_id=provider, price_context=context or None
    )
    return price.total_price


def counts_of(record: UsageRecord) -> dict[str, int]:
    """The counts of ``record`` that :data:`CACHED_COUNTS` names."""
    return {name: getattr(record, name) for name in CACHED_COUNTS}


def sdk_client(server: FakeAnthropic, **kwargs: Any) -> anthropic.Anthropic:
    """A real sync SDK client talking to ``server``."""
    return anthropic.Anthropic(api_key=API_KEY, base_url=server.url, max_retries=0, **kwargs)


def async_sdk_client(server: FakeAnthropic, **kwargs: Any) -> anthropic.AsyncAnthropic:
    """A real async SDK client talking to ``server`` (make it inside the event loop)."""
    return anthropic.AsyncAnthropic(api_key=API_KEY, base_url=server.url, max_retries=0, **kwargs)


def single(ctx: UsageContext) -> UsageRecord:
    """The one record of ``ctx`` (fails when there are none or several)."""
    records = ctx.records
    assert len(records) == 1, records
    return records[0]
