"""OpenAI-compatible providers reached through the ``openai`` SDK are recorded and priced
under the provider their base URL names, as genai-prices matches providers by API URL.

The client's base URL names the provider (``https://openrouter.ai/api/v1``); a transport
injected into the SDK's HTTP client carries its requests to the loopback fake server.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import genai_prices
import httpx2
import openai
import pytest
from openai_testing import API_KEY, HELLO, single

from aiusage_core import CustomPrice, UsageContext, configure, wrap_openai
from pytest_aiusage.fake_openai import FakeOpenAI

USAGE = {"prompt_tokens": 1000, "completion_tokens": 100}


class ToLoopback(httpx2.BaseTransport):
    """Sends every request to the fake server, whatever host its URL names."""

    def __init__(self, server: FakeOpenAI) -> None:
        self.target = httpx2.URL(server.url)
        self.inner = httpx2.HTTPTransport()

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        path = request.url.path.split("/v1", 1)[-1]
        request.url = self.target.copy_with(path=self.target.path + path)
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


@pytest.fixture
def client_at(server: FakeOpenAI) -> Iterator[object]:
    clients: list[openai.OpenAI] = []

    def make(base_url: str, **options: object) -> openai.OpenAI:
        http = openai.DefaultHttpxClient(transport=ToLoopback(server))
        made = openai.OpenAI(api_key=API_KEY, base_url=base_url, max_retries=0, http_client=http)
        clients.append(made)
        return wrap_openai(made, **options)  # type: ignore[arg-type]

    yield make
    for made in clients:
        made.close()


def genai_cost(provider: str, model: str) -> Decimal:
    usage = genai_prices.Usage(input_tokens=1000, output_tokens=100)
    return genai_prices.calc_price(usage, model, provider_id=provider).total_price


@pytest.mark.parametrize(
    ("base_url", "provider", "model"),
    [
        ("https://openrouter.ai/api/v1", "openrouter", "openai/gpt-4o-mini"),
        ("https://api.deepseek.com/v1", "deepseek", "deepseek-chat"),
        ("https://api.groq.com/openai/v1", "groq", "llama-3.3-70b-versatile"),
    ],
)
def test_a_compatible_provider_is_recorded_and_priced_under_its_own_name(
    client_at: object,
    server: FakeOpenAI,
    usage: UsageContext,
    base_url: str,
    provider: str,
    model: str,
) -> None:
    client = client_at(base_url)  # type: ignore[operator]
    server.reply(usage=USAGE)
    client.chat.completions.create(model=model, messages=HELLO)
    record = single(usage)
    assert (record.provider, record.model) == (provider, model)
    assert record.cost_usd == genai_cost(provider, model)


def test_a_model_the_matched_provider_does_not_price_is_unpriced_never_openai_priced(
    client_at: object, server: FakeOpenAI, usage: UsageContext
) -> None:
    client = client_at("https://api.groq.com/openai/v1")  # type: ignore[operator]
    server.reply(usage=USAGE)
    client.chat.completions.create(model="gpt-4o-mini", messages=HELLO)
    record = single(usage)
    assert record.provider == "groq"
    assert record.cost_usd is None
    assert usage.totals.unpriced_calls == 1


def test_an_unrecognised_base_url_stays_openai_and_the_provider_option_wins(
    client_at: object, server: FakeOpenAI, usage: UsageContext
) -> None:
    proxy = client_at("https://llm-proxy.internal.example/v1")  # type: ignore[operator]
    named = client_at("https://openrouter.ai/api/v1", provider="openai")  # type: ignore[operator]
    server.reply(usage=USAGE)
    server.reply(usage=USAGE)
    proxy.chat.completions.create(model="gpt-4o-mini", messages=HELLO)
    named.chat.completions.create(model="gpt-4o-mini", messages=HELLO)
    first, second = usage.records
    assert (first.provider, second.provider) == ("openai", "openai")
    assert first.cost_usd == second.cost_usd == genai_cost("openai", "gpt-4o-mini-2024-07-18")


def test_a_client_derived_with_another_base_url_is_matched_again(
    client_at: object, server: FakeOpenAI, usage: UsageContext
) -> None:
    client = client_at("https://openrouter.ai/api/v1")  # type: ignore[operator]
    server.reply(usage=USAGE)
    server.reply(usage=USAGE)
    client.chat.completions.create(model="openai/gpt-4o-mini", messages=HELLO)
    client.with_options(base_url="https://api.deepseek.com/v1").chat.completions.create(
        model="deepseek-chat", messages=HELLO
    )
    assert [r.provider for r in usage.records] == ["openrouter", "deepseek"]


def test_price_overrides_keyed_by_provider_and_model_win_over_a_bare_model_key(
    client_at: object, server: FakeOpenAI, usage: UsageContext
) -> None:
    openrouter = client_at("https://openrouter.ai/api/v1")  # type: ignore[operator]
    proxy = client_at("https://llm-proxy.internal.example/v1")  # type: ignore[operator]
    prices = {
        ("openrouter", "acme/*"): CustomPrice(input_mtok=Decimal(2), output_mtok=Decimal(10)),
        "acme/model-1": CustomPrice(input_mtok=Decimal(1), output_mtok=Decimal(1)),
    }
    with configure(prices=prices):
        for client in (openrouter, proxy):
            server.reply(usage=USAGE)
            client.chat.completions.create(model="acme/model-1", messages=HELLO)
        first, second = usage.records
    assert first.cost_usd == Decimal("0.003")  # (1000 * 2 + 100 * 10) / 1e6
    assert second.cost_usd == Decimal("0.0011")  # (1000 + 100) / 1e6
