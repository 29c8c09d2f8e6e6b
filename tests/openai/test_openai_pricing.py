"""Costs from the response's model and service tier, cached tokens at the cached rate, Batch
rates inside ``batch_ai_usage_context``, user prices, and Azure.

Expected costs are computed here from OpenAI's published $/MTok (the figures genai-prices
0.2.3 carries, checked with ``genai_prices.calc_price``), never by calling our pricer.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import httpx2
import openai
import pytest
from openai_testing import (
    API_KEY,
    CHAT_USAGE,
    GPT4O_MINI_COST,
    HELLO,
    RESPONSES_USAGE,
    async_sdk_client,
    single,
)

from aiusage_core import (
    CustomPrice,
    UsageContext,
    ai_usage_context,
    batch_ai_usage_context,
    configure,
    create_wrapped_openai_client,
    wrap_openai,
)
from pytest_aiusage.fake_openai import FakeOpenAI

MTOK = Decimal(1_000_000)


def cost(uncached: int, cached: int, output: int, rates: tuple[str, str, str]) -> Decimal:
    """Dollars for the counts at (input, cached input, output) $/MTok."""
    inp, cached_rate, out = (Decimal(r) for r in rates)
    return (uncached * inp + cached * cached_rate + output * out) / MTOK


def test_cached_tokens_are_billed_at_the_cached_rate_not_twice(
    server: FakeOpenAI, client: openai.OpenAI, usage: UsageContext
) -> None:
    # 1000 prompt tokens of which 200 cached: 800 at $0.15, 200 at $0.075, 100 out at $0.60.
    server.reply(usage=CHAT_USAGE)
    client.chat.completions.create(model="gpt-4o-mini", messages=HELLO)
    assert single(usage).cost_usd == Decimal("0.000195") == GPT4O_MINI_COST
    assert cost(800, 200, 100, ("0.15", "0.075", "0.60")) == GPT4O_MINI_COST


@pytest.mark.parametrize(
    ("model", "tier", "rates"),
    [
        # gpt-5-mini: standard 0.25/0.025/2.00; flex 0.125/0.0125/1.00.
        ("gpt-5-mini-2025-08-07", "flex", ("0.125", "0.0125", "1.00")),
        # gpt-4o-mini: priority 0.25/0.125/1.00.
        ("gpt-4o-mini-2024-07-18", "priority", ("0.25", "0.125", "1.00")),
        ("gpt-5-mini-2025-08-07", "default", ("0.25", "0.025", "2.00")),
    ],
)
def test_the_service_tier_of_the_response_sets_the_price(
    server: FakeOpenAI,
    client: openai.OpenAI,
    usage: UsageContext,
    model: str,
    tier: str,
    rates: tuple[str, str, str],
) -> None:
    server.reply(model=model, service_tier=tier, usage=CHAT_USAGE)
    # The request asks for "auto"; what the response says it got is what is billed.
    client.chat.completions.create(model="gpt-5-mini", messages=HELLO, service_tier="auto")
    record = single(usage)
    assert record.service_tier == tier
    assert record.model == model
    assert record.cost_usd == cost(800, 200, 100, rates)


def test_a_responses_call_served_by_flex_is_priced_at_flex(
    server: FakeOpenAI, client: openai.OpenAI, usage: UsageContext
) -> None:
    server.reply(model="gpt-5-mini-2025-08-07", service_tier="flex", usage=RESPONSES_USAGE)
    client.responses.create(model="gpt-5-mini", input="Hi", service_tier="flex")
    # 800 * 0.125 + 200 * 0.0125 + 100 * 1.00, per million.
    assert single(usage).cost_usd == Decimal("0.0002025")


def test_calls_in_a_batch_context_are_priced_at_batch_rates(
    server: FakeOpenAI, client: openai.OpenAI
) -> None:
    server.reply(usage=CHAT_USAGE)
    server.reply(usage=CHAT_USAGE)
    with batch_ai_usage_context("batch-7") as batch:
        client.chat.completions.create(model="gpt-4o-mini", messages=HELLO)
        with ai_usage_context("inner"):
            list(client.chat.completions.create(model="gpt-4o-mini", messages=HELLO, stream=True))
    first, second = batch.records
    # gpt-4o-mini Batch API: $0.075 input, $0.075 cached input, $0.30 output.
    assert first.batch is True
    assert first.cost_usd == cost(800, 200, 100, ("0.075", "0.075", "0.30"))
    assert first.cost_usd == Decimal("0.000105")
    assert first.metadata["batch_id"] == "batch-7"
    assert second.batch is True  # the stream (no usage) inherits the flag too
    assert second.context_path == ("batch_processing", "inner")


def test_user_prices_apply_to_fine_tuned_models(
    server: FakeOpenAI, client: openai.OpenAI, usage: UsageContext
) -> None:
    model = "ft:gpt-4o-mini-2024-07-18:acme::abc123"
    price = CustomPrice(input_mtok=Decimal("0.30"), output_mtok=Decimal("1.20"))
    with configure(prices={"ft:gpt-4o-mini*": price}):
        server.reply(model=model, usage={"prompt_tokens": 1000, "completion_tokens": 100})
        client.chat.completions.create(model=model, messages=HELLO)
    # (1000 * 0.30 + 100 * 1.20) / 1e6
    assert single(usage).cost_usd == Decimal("0.00042")


class _AzureRoutes(httpx2.HTTPTransport):
    """Sends Azure's ``/openai/deployments/{name}/...`` requests to the fake server."""

    def __init__(self, server: FakeOpenAI) -> None:
        super().__init__()
        self.target = httpx2.URL(server.url)
        self.seen: list[str] = []

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        self.seen.append(request.url.path)
        endpoint = request.url.path.rsplit("/", 2)
        suffix = "/".join(endpoint[-2:]) if endpoint[-2] == "chat" else endpoint[-1]
        request.url = self.target.copy_with(path=f"{self.target.path}/{suffix}", query=None)
        return super().handle_request(request)


@pytest.fixture
def azure_routes(server: FakeOpenAI) -> _AzureRoutes:
    return _AzureRoutes(server)


def test_azure_clients_are_priced_as_azure_from_the_model_the_response_names(
    server: FakeOpenAI, azure_routes: _AzureRoutes, usage: UsageContext
) -> None:
    client = create_wrapped_openai_client(
        azure=True,
        api_key=API_KEY,
        api_version="2024-10-21",
        azure_endpoint="https://example-resource.openai.azure.com",
        max_retries=0,
        http_client=httpx2.Client(transport=azure_routes),
    )
    assert isinstance(client, openai.AzureOpenAI)
    with client:
        # Azure requests name the deployment; the response names the model behind it.
        server.reply(model="gpt-4o-mini-2024-07-18", usage=CHAT_USAGE)
        client.chat.completions.create(model="my-deployment", messages=HELLO)
    assert azure_routes.seen == ["/openai/deployments/my-deployment/chat/completions"]
    record = single(usage)
    assert record.provider == "azure"
    assert record.model == "gpt-4o-mini-2024-07-18"
    # genai-prices lists gpt-4o-mini on Azure at OpenAI's rates: 0.15 / 0.075 / 0.60.
    assert record.cost_usd == GPT4O_MINI_COST


def test_async_azure_clients_are_tracked_as_azure(
    server: FakeOpenAI, azure_routes: _AzureRoutes, usage: UsageContext
) -> None:
    class AsyncAzureRoutes(httpx2.AsyncBaseTransport):
        async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
            response = azure_routes.handle_request(request)
            return httpx2.Response(
                response.status_code, headers=response.headers, content=response.read()
            )

    async def main() -> None:
        client = openai.AsyncAzureOpenAI(
            api_key=API_KEY,
            api_version="2024-10-21",
            azure_endpoint="https://example-resource.openai.azure.com",
            max_retries=0,
            http_client=httpx2.AsyncClient(transport=AsyncAzureRoutes()),
        )
        async with wrap_openai(client) as tracked:
            server.reply(model="gpt-4o-mini-2024-07-18", usage=CHAT_USAGE)
            await tracked.chat.completions.create(model="my-deployment", messages=HELLO)

    asyncio.run(main())
    record = single(usage)
    assert (record.provider, record.cost_usd) == ("azure", GPT4O_MINI_COST)


def test_the_provider_option_prices_another_provider(
    server: FakeOpenAI, plain_client: openai.OpenAI, usage: UsageContext
) -> None:
    client = wrap_openai(plain_client, provider="azure")
    client.chat.completions.create(model="gpt-4o-mini", messages=HELLO)
    assert single(usage).provider == "azure"


def test_async_calls_are_priced_like_sync_ones(server: FakeOpenAI, usage: UsageContext) -> None:
    async def main() -> Any:
        async with async_sdk_client(server) as plain:
            server.reply(model="gpt-5-mini-2025-08-07", service_tier="flex", usage=CHAT_USAGE)
            return await wrap_openai(plain).chat.completions.create(
                model="gpt-5-mini", messages=HELLO
            )

    asyncio.run(main())
    assert single(usage).cost_usd == cost(800, 200, 100, ("0.125", "0.0125", "1.00"))
