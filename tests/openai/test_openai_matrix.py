"""Each API x sync/async x stream/no-stream through a wrapped client: exact tokens and cost,
and the caller gets exactly what an unwrapped client gets."""

from __future__ import annotations

import asyncio
from typing import Any

import openai
import pytest
from openai_testing import (
    API_KEY,
    CHAT_USAGE,
    EMBEDDING_COST,
    EMBEDDING_USAGE,
    GPT4O_MINI_COST,
    GPT4O_MINI_SNAPSHOT,
    HELLO,
    RESPONSES_USAGE,
    async_sdk_client,
    sdk_client,
    single,
)
from pydantic import BaseModel

from aiusage_core import UsageContext, wrap_openai
from pytest_aiusage.fake_openai import FakeOpenAI

CASES = [
    ("chat", False),
    ("chat", True),
    ("responses", False),
    ("responses", True),
    ("embeddings", False),
]
USAGES = {"chat": CHAT_USAGE, "responses": RESPONSES_USAGE, "embeddings": EMBEDDING_USAGE}


def call(client: openai.OpenAI, api: str, stream: bool) -> Any:
    """Make one call; a stream is consumed to the end and returned as its list of items."""
    if api == "chat":
        if stream:
            return list(
                client.chat.completions.create(
                    model="gpt-4o-mini",
                    messages=HELLO,
                    stream=True,
                    stream_options={"include_usage": True},
                )
            )
        return client.chat.completions.create(model="gpt-4o-mini", messages=HELLO)
    if api == "responses":
        if stream:
            return list(client.responses.create(model="gpt-4o-mini", input="Hi", stream=True))
        return client.responses.create(model="gpt-4o-mini", input="Hi")
    return client.embeddings.create(model="text-embedding-3-small", input="Hi")


async def acall(client: openai.AsyncOpenAI, api: str, stream: bool) -> Any:
    """The async twin of :func:`call`."""
    if api == "chat":
        if stream:
            chunks = await client.chat.completions.create(
                model="gpt-4o-mini",
                messages=HELLO,
                stream=True,
                stream_options={"include_usage": True},
            )
            return [chunk async for chunk in chunks]
        return await client.chat.completions.create(model="gpt-4o-mini", messages=HELLO)
    if api == "responses":
        if stream:
            events = await client.responses.create(model="gpt-4o-mini", input="Hi", stream=True)
            return [event async for event in events]
        return await client.responses.create(model="gpt-4o-mini", input="Hi")
    return await client.embeddings.create(model="text-embedding-3-small", input="Hi")


def run(server: FakeOpenAI, api: str, stream: bool, mode: str, *, wrap: bool = True) -> Any:
    """Make the call with a fresh (wrapped) client of the given mode."""
    if mode == "sync":
        with sdk_client(server) as client:
            return call(wrap_openai(client) if wrap else client, api, stream)

    async def main() -> Any:
        async with async_sdk_client(server) as client:
            return await acall(wrap_openai(client) if wrap else client, api, stream)

    return asyncio.run(main())


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize(("api", "stream"), CASES)
def test_every_api_form_is_recorded_with_exact_tokens_and_cost(
    server: FakeOpenAI, usage: UsageContext, api: str, stream: bool, mode: str
) -> None:
    server.reply(usage=USAGES[api])
    run(server, api, stream, mode)

    record = single(usage)
    assert record.api == api
    assert record.provider == "openai"
    assert record.usage_status == "reported"
    assert record.error is None
    assert record.context_path == ("openai-test",)
    assert record.request_id is not None
    assert record.request_id.startswith("req_")
    assert record.latency_ms is not None
    assert record.latency_ms > 0
    if api == "embeddings":
        assert record.model == "text-embedding-3-small"
        assert (record.input_tokens, record.output_tokens) == (5000, 0)
        assert record.service_tier is None
        assert record.cost_usd == EMBEDDING_COST
    else:
        assert record.model == GPT4O_MINI_SNAPSHOT
        assert record.input_tokens == 1000
        assert record.cached_input_tokens == 200
        assert record.output_tokens == 100
        assert record.reasoning_tokens == 40
        assert record.service_tier == "default"
        assert record.cost_usd == GPT4O_MINI_COST
    assert usage.totals.calls == 1
    assert usage.totals.unpriced_calls == 0


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize(("api", "stream"), CASES)
def test_wrapped_calls_return_exactly_what_unwrapped_calls_return(
    api: str, stream: bool, mode: str
) -> None:
    # Two fresh servers answer the same request sequence with the same bytes.
    with FakeOpenAI() as first, FakeOpenAI() as second:
        plain = run(first, api, stream, mode, wrap=False)
        wrapped = run(second, api, stream, mode)
    if stream:
        assert [type(item) for item in wrapped] == [type(item) for item in plain]
        assert [item.model_dump() for item in wrapped] == [item.model_dump() for item in plain]
    else:
        assert type(wrapped) is type(plain)
        assert wrapped.model_dump() == plain.model_dump()


@pytest.mark.parametrize(("api", "stream"), CASES)
def test_records_hold_no_prompt_or_completion_text_and_no_key(
    server: FakeOpenAI, usage: UsageContext, api: str, stream: bool
) -> None:
    run(server, api, stream, "sync")
    dumped = repr(single(usage).to_dict())
    for secret in ("Hello", "Echo", "Hi", API_KEY):
        assert secret not in dumped


class Answer(BaseModel):
    answer: str


def test_structured_parse_calls_are_recorded_sync_and_async(
    server: FakeOpenAI, usage: UsageContext
) -> None:
    content = '{"answer": "hi"}'
    server.reply(content=content, usage=CHAT_USAGE)
    server.reply(content=content, usage=RESPONSES_USAGE)
    with sdk_client(server) as plain:
        client = wrap_openai(plain)
        completion = client.chat.completions.parse(
            model="gpt-4o-mini", messages=HELLO, response_format=Answer
        )
        response = client.responses.parse(model="gpt-4o-mini", input="Hi", text_format=Answer)
    assert completion.choices[0].message.parsed == Answer(answer="hi")
    assert response.output_parsed == Answer(answer="hi")

    async def main() -> None:
        async with async_sdk_client(server) as plain:
            client = wrap_openai(plain)
            server.reply(content=content, usage=CHAT_USAGE)
            await client.chat.completions.parse(
                model="gpt-4o-mini", messages=HELLO, response_format=Answer
            )
            server.reply(content=content, usage=RESPONSES_USAGE)
            await client.responses.parse(model="gpt-4o-mini", input="Hi", text_format=Answer)

    asyncio.run(main())
    assert [(r.api, r.cost_usd) for r in usage.records] == [
        ("chat", GPT4O_MINI_COST),
        ("responses", GPT4O_MINI_COST),
    ] * 2
