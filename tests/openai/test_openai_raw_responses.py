"""``with_raw_response`` and ``with_streaming_response`` are tracked, sync and async, and
hand back the SDK's own response objects."""

from __future__ import annotations

import asyncio

import openai
from openai._legacy_response import LegacyAPIResponse
from openai._response import APIResponse, AsyncAPIResponse
from openai.types.chat import ChatCompletion
from openai_testing import (
    CHAT_USAGE,
    EMBEDDING_COST,
    EMBEDDING_USAGE,
    GPT4O_MINI_COST,
    HELLO,
    RESPONSES_USAGE,
    async_sdk_client,
    single,
)

from aiusage_core import UsageContext, wrap_openai
from pytest_aiusage.fake_openai import FakeOpenAI


def test_a_raw_response_is_recorded_and_still_parses(
    server: FakeOpenAI, client: openai.OpenAI, usage: UsageContext
) -> None:
    server.reply(usage=CHAT_USAGE)
    raw = client.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=HELLO)
    assert type(raw) is LegacyAPIResponse
    record = single(usage)
    assert record.cost_usd == GPT4O_MINI_COST
    assert record.request_id == raw.headers["x-request-id"]
    completion = raw.parse()
    assert isinstance(completion, ChatCompletion)
    assert completion.usage is not None
    assert completion.usage.prompt_tokens == 1000
    assert len(usage.records) == 1


def test_raw_responses_of_embeddings_and_responses_are_recorded(
    server: FakeOpenAI, client: openai.OpenAI, usage: UsageContext
) -> None:
    server.reply(usage=EMBEDDING_USAGE)
    client.embeddings.with_raw_response.create(model="text-embedding-3-small", input="Hi")
    server.reply(usage=RESPONSES_USAGE)
    client.responses.with_raw_response.create(model="gpt-4o-mini", input="Hi")
    assert [r.cost_usd for r in usage.records] == [EMBEDDING_COST, GPT4O_MINI_COST]


def test_a_raw_stream_is_recorded_once_it_is_read(
    server: FakeOpenAI, client: openai.OpenAI, usage: UsageContext
) -> None:
    server.reply(usage=CHAT_USAGE)
    raw = client.chat.completions.with_raw_response.create(
        model="gpt-4o-mini", messages=HELLO, stream=True, stream_options={"include_usage": True}
    )
    assert usage.records == []
    stream = raw.parse()
    assert isinstance(stream, openai.Stream)
    assert raw.parse() is stream
    list(stream)
    assert single(usage).cost_usd == GPT4O_MINI_COST


def test_a_raw_stream_read_as_lines_is_recorded_as_missing_when_closed(
    client: openai.OpenAI, usage: UsageContext
) -> None:
    raw = client.responses.with_raw_response.create(model="gpt-4o-mini", input="Hi", stream=True)
    lines = list(raw.http_response.iter_lines())
    assert any(line.startswith("event: response.completed") for line in lines)
    assert single(usage).usage_status == "missing"


def test_a_streaming_response_is_recorded_when_its_body_is_read(
    server: FakeOpenAI, client: openai.OpenAI, usage: UsageContext
) -> None:
    server.reply(usage=CHAT_USAGE)
    with client.chat.completions.with_streaming_response.create(
        model="gpt-4o-mini", messages=HELLO
    ) as response:
        assert type(response) is APIResponse
        assert usage.records == []
        completion = response.parse()
        assert single(usage).cost_usd == GPT4O_MINI_COST
    assert isinstance(completion, ChatCompletion)
    server.reply(usage=EMBEDDING_USAGE)
    with client.embeddings.with_streaming_response.create(
        model="text-embedding-3-small", input="Hi"
    ) as response:
        body = response.json()
    assert isinstance(body, dict)
    assert usage.records[-1].cost_usd == EMBEDDING_COST
    assert len(usage.records) == 2


def test_a_streaming_response_left_unread_is_recorded_as_missing_on_exit(
    client: openai.OpenAI, usage: UsageContext
) -> None:
    with client.chat.completions.with_streaming_response.create(
        model="gpt-4o-mini", messages=HELLO
    ) as response:
        assert response.status_code == 200
    assert single(usage).usage_status == "missing"


def test_a_streaming_response_of_a_stream_is_recorded_through_parse(
    server: FakeOpenAI, client: openai.OpenAI, usage: UsageContext
) -> None:
    server.reply(usage=RESPONSES_USAGE)
    with client.responses.with_streaming_response.create(
        model="gpt-4o-mini", input="Hi", stream=True
    ) as response:
        events = list(response.parse())
    assert events[-1].type == "response.completed"
    assert single(usage).cost_usd == GPT4O_MINI_COST


def test_async_raw_and_streaming_responses_are_recorded(
    server: FakeOpenAI, usage: UsageContext
) -> None:
    async def main() -> None:
        async with async_sdk_client(server) as plain:
            client = wrap_openai(plain)
            server.reply(usage=CHAT_USAGE)
            raw = await client.chat.completions.with_raw_response.create(
                model="gpt-4o-mini", messages=HELLO
            )
            assert isinstance(raw.parse(), ChatCompletion)

            server.reply(usage=CHAT_USAGE)
            raw_stream = await client.chat.completions.with_raw_response.create(
                model="gpt-4o-mini",
                messages=HELLO,
                stream=True,
                stream_options={"include_usage": True},
            )
            chunks = raw_stream.parse()
            assert isinstance(chunks, openai.AsyncStream)
            assert len([chunk async for chunk in chunks]) > 1

            server.reply(usage=RESPONSES_USAGE)
            async with client.responses.with_streaming_response.create(
                model="gpt-4o-mini", input="Hi"
            ) as response:
                assert type(response) is AsyncAPIResponse
                await response.parse()

            server.reply(usage=RESPONSES_USAGE)
            async with client.responses.with_streaming_response.create(
                model="gpt-4o-mini", input="Hi", stream=True
            ) as response:
                events = await response.parse()
                assert len([event async for event in events]) > 1

            async with client.embeddings.with_streaming_response.create(
                model="text-embedding-3-small", input="Hi"
            ) as response:
                pass  # body never read

    asyncio.run(main())
    assert [(r.api, r.usage_status, r.cost_usd) for r in usage.records] == [
        ("chat", "reported", GPT4O_MINI_COST),
        ("chat", "reported", GPT4O_MINI_COST),
        ("responses", "reported", GPT4O_MINI_COST),
        ("responses", "reported", GPT4O_MINI_COST),
        ("embeddings", "missing", None),
    ]
