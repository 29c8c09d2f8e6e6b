"""Streams are recorded exactly once however they end: exhausted, broken out of and closed,
left through a context manager, garbage-collected, or failed midway."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Iterator
from decimal import Decimal

import httpx2
import openai
import pytest
from openai_testing import (
    API_KEY,
    CHAT_USAGE,
    GPT4O_MINI_COST,
    GPT4O_MINI_SNAPSHOT,
    HELLO,
    RESPONSES_USAGE,
    async_sdk_client,
    sdk_client,
    single,
)

from aiusage_core import UsageContext, ai_usage_context, wrap_openai
from pytest_aiusage.fake_openai import FakeOpenAI


def chat_stream(client: openai.OpenAI, **kwargs: object) -> openai.Stream[object]:
    return client.chat.completions.create(  # type: ignore[call-overload, no-any-return]
        model="gpt-4o-mini", messages=HELLO, stream=True, **kwargs
    )


def assert_missing(ctx: UsageContext) -> None:
    record = single(ctx)
    assert record.usage_status == "missing"
    assert record.cost_usd is None
    assert (record.input_tokens, record.output_tokens) == (0, 0)
    assert record.error is None
    assert ctx.totals.unpriced_calls == 1
    assert ctx.totals.cost_usd == Decimal(0)


# -- sync chat ---------------------------------------------------------------------------------


def test_a_chat_stream_without_usage_is_recorded_as_missing_never_as_zero_cost(
    client: openai.OpenAI, usage: UsageContext
) -> None:
    chunks = list(chat_stream(client))
    assert chunks
    assert_missing(usage)
    # No usage chunk, but every chunk names the model and tier that served the call: the
    # record is filed under them, like the calls that reported usage.
    assert chunks[0].model == "gpt-4o-mini-2024-07-18"
    assert (single(usage).model, single(usage).service_tier) == (
        "gpt-4o-mini-2024-07-18",
        "default",
    )


def test_breaking_out_of_a_stream_records_it_once_at_the_next_read(
    server: FakeOpenAI, client: openai.OpenAI, usage: UsageContext
) -> None:
    server.reply(usage=CHAT_USAGE)
    stream = chat_stream(client, stream_options={"include_usage": True})
    for _ in stream:
        break
    assert not stream.response.is_closed  # the SDK leaves it open; so do we
    assert_missing(usage)  # reading usage counts the stream that was left
    assert single(usage).latency_ms is None  # when it ended is unknown
    assert list(stream)  # reading on to the usage chunk after that changes nothing
    stream.close()
    assert_missing(usage)
    assert len(usage.records) == 1


def test_a_stream_read_on_after_a_break_before_usage_is_read_keeps_its_usage(
    server: FakeOpenAI, client: openai.OpenAI, usage: UsageContext
) -> None:
    server.reply(usage=CHAT_USAGE)
    stream = chat_stream(client, stream_options={"include_usage": True})
    first = [chunk for chunk, _ in zip(stream, range(1), strict=False)]
    rest = list(stream)
    assert first
    assert rest
    record = single(usage)
    assert record.usage_status == "reported"
    assert record.cost_usd == GPT4O_MINI_COST


def test_an_exception_in_the_loop_body_leaves_the_stream_and_records_it(
    client: openai.OpenAI, usage: UsageContext
) -> None:
    stream = chat_stream(client, stream_options={"include_usage": True})

    def read_with_a_bug() -> None:
        for _ in stream:
            raise KeyError("the caller's own bug")

    with pytest.raises(KeyError):
        read_with_a_bug()
    assert_missing(usage)
    stream.close()
    assert len(usage.records) == 1


def test_breaking_out_of_an_async_stream_records_it_once_the_loop_closed_it(
    server: FakeOpenAI,
) -> None:
    async def main() -> UsageContext:
        async with async_sdk_client(server) as raw:
            client = wrap_openai(raw)
            with ai_usage_context("async-break") as ctx:
                stream = await client.chat.completions.create(
                    model="gpt-4o-mini", messages=HELLO, stream=True
                )
                async for _ in stream:
                    break
                # The event loop closes an abandoned async generator a step or two later.
                for _ in range(5):
                    await asyncio.sleep(0)
                assert [r.usage_status for r in ctx.records] == ["missing"]
                await stream.close()
            return ctx

    ctx = asyncio.run(main())
    assert len(ctx.records) == 1


def test_leaving_a_stream_through_its_context_manager_records_it(
    client: openai.OpenAI, usage: UsageContext
) -> None:
    with chat_stream(client, stream_options={"include_usage": True}) as stream:
        next(stream)
    assert_missing(usage)


def test_a_stream_read_to_its_usage_chunk_then_closed_keeps_the_usage(
    server: FakeOpenAI, client: openai.OpenAI, usage: UsageContext
) -> None:
    server.reply(usage=CHAT_USAGE)
    stream = chat_stream(client, stream_options={"include_usage": True})
    for chunk in stream:
        if chunk.usage is not None:
            break
    stream.close()
    record = single(usage)
    assert record.usage_status == "reported"
    assert record.cost_usd == GPT4O_MINI_COST


def test_an_unconsumed_stream_is_recorded_when_garbage_collected(
    client: openai.OpenAI, usage: UsageContext
) -> None:
    stream = chat_stream(client, stream_options={"include_usage": True})
    del stream
    gc.collect()
    assert_missing(usage)
    assert single(usage).latency_ms is None  # when it ended is unknown
    gc.collect()
    assert len(usage.records) == 1


def test_a_partly_read_stream_is_recorded_once_when_garbage_collected(
    client: openai.OpenAI, usage: UsageContext
) -> None:
    stream = chat_stream(client)
    next(stream)
    next(stream)
    del stream
    gc.collect()
    assert_missing(usage)


def test_a_stream_collected_elsewhere_is_recorded_in_the_context_of_its_call(
    client: openai.OpenAI,
) -> None:
    with ai_usage_context("caller") as caller:
        stream = chat_stream(client)
    with ai_usage_context("bystander") as bystander:
        del stream
        gc.collect()
    assert bystander.records == []
    assert single(caller).context_path == ("caller",)


def test_the_chat_stream_helper_records_its_usage(
    server: FakeOpenAI, client: openai.OpenAI, usage: UsageContext
) -> None:
    server.reply(usage=CHAT_USAGE)
    with client.chat.completions.stream(
        model="gpt-4o-mini", messages=HELLO, stream_options={"include_usage": True}
    ) as stream:
        completion = stream.get_final_completion()
    assert completion.usage is not None
    assert completion.usage.prompt_tokens == 1000
    assert single(usage).cost_usd == GPT4O_MINI_COST


def test_leaving_the_chat_stream_helper_early_records_the_call(
    client: openai.OpenAI, usage: UsageContext
) -> None:
    with client.chat.completions.stream(model="gpt-4o-mini", messages=HELLO) as stream:
        for _ in stream:
            break
    assert_missing(usage)


# -- stream_usage=True -------------------------------------------------------------------------


def test_stream_usage_asks_for_usage_and_hides_the_extra_chunk(
    server: FakeOpenAI, plain_client: openai.OpenAI, usage: UsageContext
) -> None:
    client = wrap_openai(plain_client, stream_usage=True)
    server.reply(usage=CHAT_USAGE)
    chunks = list(chat_stream(client))

    assert server.requests[-1].json["stream_options"] == {"include_usage": True}
    assert chunks
    assert all(chunk.choices for chunk in chunks)
    assert all(chunk.usage is None for chunk in chunks)
    record = single(usage)
    assert (record.input_tokens, record.output_tokens) == (1000, 100)
    assert record.cost_usd == GPT4O_MINI_COST
    # The caller sees the chunks an unwrapped client gets for the request they made (the
    # fake server derives ids from the request body, which differs by stream_options).
    with FakeOpenAI() as other, sdk_client(other) as unwrapped:
        expected = list(chat_stream(unwrapped))
    assert [c.model_dump(exclude={"id"}) for c in chunks] == [
        c.model_dump(exclude={"id"}) for c in expected
    ]


def test_stream_usage_keeps_other_stream_options_of_the_caller(
    server: FakeOpenAI, plain_client: openai.OpenAI, usage: UsageContext
) -> None:
    client = wrap_openai(plain_client, stream_usage=True)
    list(chat_stream(client, stream_options={"include_obfuscation": False}))
    sent = server.requests[-1].json["stream_options"]
    assert sent == {"include_obfuscation": False, "include_usage": True}
    assert single(usage).usage_status == "reported"


def test_stream_usage_shows_the_usage_chunk_to_a_caller_who_asked_for_it(
    server: FakeOpenAI, plain_client: openai.OpenAI, usage: UsageContext
) -> None:
    client = wrap_openai(plain_client, stream_usage=True)
    server.reply(usage=CHAT_USAGE)
    chunks = list(chat_stream(client, stream_options={"include_usage": True}))
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None
    assert single(usage).cost_usd == GPT4O_MINI_COST


def test_stream_usage_respects_a_caller_who_said_no(
    server: FakeOpenAI, plain_client: openai.OpenAI, usage: UsageContext
) -> None:
    client = wrap_openai(plain_client, stream_usage=True)
    list(chat_stream(client, stream_options={"include_usage": False}))
    assert server.requests[-1].json["stream_options"] == {"include_usage": False}
    assert_missing(usage)


def test_without_stream_usage_the_request_is_left_alone(
    server: FakeOpenAI, client: openai.OpenAI, usage: UsageContext
) -> None:
    list(chat_stream(client))
    assert "stream_options" not in server.requests[-1].json


# -- Responses streams ---------------------------------------------------------------------------


def test_the_responses_stream_helper_records_its_usage(
    server: FakeOpenAI, client: openai.OpenAI, usage: UsageContext
) -> None:
    server.reply(usage=RESPONSES_USAGE)
    with client.responses.stream(model="gpt-4o-mini", input="Hi") as stream:
        response = stream.get_final_response()
    assert response.usage is not None
    assert single(usage).cost_usd == GPT4O_MINI_COST


def test_a_responses_stream_broken_out_of_is_recorded_as_missing(
    client: openai.OpenAI, usage: UsageContext
) -> None:
    with client.responses.create(model="gpt-4o-mini", input="Hi", stream=True) as stream:
        for event in stream:
            assert event.type == "response.created"
            break
    assert_missing(usage)
    # ``response.created`` named the model and tier that serve the call.
    assert (single(usage).model, single(usage).service_tier) == (GPT4O_MINI_SNAPSHOT, "default")


def test_a_responses_stream_whose_final_event_has_no_usage_is_missing(
    server: FakeOpenAI, client: openai.OpenAI, usage: UsageContext
) -> None:
    server.reply(include_usage_in_stream=False)
    list(client.responses.create(model="gpt-4o-mini", input="Hi", stream=True))
    assert_missing(usage)
    assert single(usage).model == GPT4O_MINI_SNAPSHOT  # the final event still names it


# -- failures midway ---------------------------------------------------------------------------


class _BrokenBody(httpx2.SyncByteStream):
    """Two chunks of a chat stream, then the connection breaks."""

    def __iter__(self) -> Iterator[bytes]:
        yield (
            b'data: {"id":"c1","object":"chat.completion.chunk","created":1,'
            b'"model":"gpt-4o-mini-2024-07-18","choices":[{"index":0,"delta":'
            b'{"content":"Hel"},"finish_reason":null}]}\n\n'
        )
        raise httpx2.ReadError("connection reset by peer")


def test_a_stream_broken_midway_is_recorded_with_its_error_and_reraised(
    usage: UsageContext,
) -> None:
    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(
            200,
            headers={"content-type": "text/event-stream", "x-request-id": "req_broken"},
            stream=_BrokenBody(),
        )

    http_client = openai.DefaultHttpxClient(transport=httpx2.MockTransport(handler))
    with openai.OpenAI(
        api_key=API_KEY, base_url="http://test/v1", max_retries=0, http_client=http_client
    ) as plain:
        stream = chat_stream(wrap_openai(plain))
        first = next(stream)
        assert first.choices[0].delta.content == "Hel"
        with pytest.raises(openai.APIConnectionError) as raised:
            next(stream)
    record = single(usage)
    assert record.error is not None
    assert record.error.type == "APIConnectionError"
    assert record.error.message == str(raised.value)
    assert record.usage_status == "missing"
    assert record.cost_usd is None
    assert record.request_id == "req_broken"
    assert usage.totals.errors == 1


# -- async -------------------------------------------------------------------------------------


def test_async_streams_are_recorded_when_exhausted_closed_or_collected(
    server: FakeOpenAI, usage: UsageContext
) -> None:
    async def main() -> None:
        async with async_sdk_client(server) as plain:
            client = wrap_openai(plain)
            server.reply(usage=CHAT_USAGE)
            exhausted = await client.chat.completions.create(
                model="gpt-4o-mini",
                messages=HELLO,
                stream=True,
                stream_options={"include_usage": True},
            )
            assert len([chunk async for chunk in exhausted]) > 1
            assert len(usage.records) == 1

            closed = await client.chat.completions.create(
                model="gpt-4o-mini", messages=HELLO, stream=True
            )
            async for _ in closed:
                break
            assert len(usage.records) == 1
            await closed.close()
            assert len(usage.records) == 2

            async with await client.responses.create(
                model="gpt-4o-mini", input="Hi", stream=True
            ) as left:
                await left.__anext__()
            assert len(usage.records) == 3

            unconsumed = await client.chat.completions.create(
                model="gpt-4o-mini", messages=HELLO, stream=True
            )
            del unconsumed
            gc.collect()
            assert len(usage.records) == 4

            partly = await client.chat.completions.create(
                model="gpt-4o-mini", messages=HELLO, stream=True
            )
            await partly.__anext__()
            del partly
            gc.collect()

    asyncio.run(main())
    # The partly read one is closed by the event loop (its async generators are finalized
    # there), at the latest when asyncio.run shuts the loop down.
    statuses = [(r.api, r.usage_status, r.model) for r in usage.records]
    assert statuses == [
        ("chat", "reported", GPT4O_MINI_SNAPSHOT),
        ("chat", "missing", GPT4O_MINI_SNAPSHOT),  # its first chunk named the model
        ("responses", "missing", GPT4O_MINI_SNAPSHOT),
        ("chat", "missing", "gpt-4o-mini"),  # no chunk read: only the request's model is known
        ("chat", "missing", GPT4O_MINI_SNAPSHOT),
    ]
    assert usage.records[0].cost_usd == GPT4O_MINI_COST


def test_async_stream_usage_hides_the_extra_chunk(server: FakeOpenAI, usage: UsageContext) -> None:
    async def main() -> list[openai.types.chat.ChatCompletionChunk]:
        async with async_sdk_client(server) as plain:
            client = wrap_openai(plain, stream_usage=True)
            server.reply(usage=CHAT_USAGE)
            stream = await client.chat.completions.create(
                model="gpt-4o-mini", messages=HELLO, stream=True
            )
            return [chunk async for chunk in stream]

    chunks = asyncio.run(main())
    assert all(chunk.choices for chunk in chunks)
    assert single(usage).cost_usd == GPT4O_MINI_COST


def test_the_async_stream_helpers_record_their_usage(
    server: FakeOpenAI, usage: UsageContext
) -> None:
    async def main() -> None:
        async with async_sdk_client(server) as plain:
            client = wrap_openai(plain)
            server.reply(usage=CHAT_USAGE)
            async with client.chat.completions.stream(
                model="gpt-4o-mini", messages=HELLO, stream_options={"include_usage": True}
            ) as chat:
                await chat.get_final_completion()
            server.reply(usage=RESPONSES_USAGE)
            async with client.responses.stream(model="gpt-4o-mini", input="Hi") as responses:
                await responses.get_final_response()

    asyncio.run(main())
    assert [r.cost_usd for r in usage.records] == [GPT4O_MINI_COST, GPT4O_MINI_COST]


def test_a_stream_collected_while_recording_is_busy_is_queued_instead_of_deadlocking(
    client: openai.OpenAI, usage: UsageContext
) -> None:
    from aiusage_core._context import _record_lock
    from aiusage_core._delivery import _later

    stream = chat_stream(client)
    del stream
    # As if the collector ran while this thread was inside the recording machinery: making
    # the record there would take a lock this thread already holds.
    with _record_lock:
        gc.collect()
        queued = len(_later)
    assert queued == 1
    # Reading the context makes it: the abandoned stream is counted, usage unknown.
    assert [(r.api, r.usage_status, r.cost_usd) for r in usage.records] == [
        ("chat", "missing", None)
    ]
    client.embeddings.create(model="text-embedding-3-small", input="Hi")
    assert [(r.api, r.usage_status) for r in usage.records] == [
        ("chat", "missing"),
        ("embeddings", "reported"),
    ]
    assert not _later
