"""Anthropic streams are recorded exactly once however they end: exhausted, closed early,
broken, or garbage-collected; usage comes from ``message_start`` and the cumulative
``message_delta`` (repeated counts replace, never add)."""

from __future__ import annotations

import asyncio
import gc
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import anthropic
import httpx2
import pytest
from anthropic_testing import (
    API_KEY,
    CACHED_COUNTS,
    CACHED_HAIKU_COST,
    CACHED_USAGE,
    HAIKU,
    HELLO,
    async_sdk_client,
    counts_of,
    genai_cost,
    single,
)

from aiusage_core import UsageContext, ai_usage_context, wrap_anthropic
from pytest_aiusage.fake_openai import FakeAnthropic

HELLO_COUNTS = {"input_tokens": 10, "output_tokens": 6}


def assert_missing(ctx: UsageContext) -> None:
    record = single(ctx)
    assert record.usage_status == "missing"
    assert record.cost_usd is None
    assert record.model == HAIKU  # named by message_start


def test_an_exhausted_stream_takes_its_cumulative_usage_once(
    server: FakeAnthropic, client: anthropic.Anthropic, usage: UsageContext
) -> None:
    server.reply(usage=CACHED_USAGE)
    stream = client.messages.create(model=HAIKU, max_tokens=64, messages=HELLO, stream=True)
    kinds = [event.type for event in stream]
    assert kinds[0] == "message_start"
    assert kinds[-1] == "message_stop"
    record = single(usage)
    # message_delta repeats the input and cache counts: taken, not added.
    assert counts_of(record) == CACHED_COUNTS
    assert record.cost_usd == CACHED_HAIKU_COST == genai_cost(CACHED_COUNTS)
    assert record.request_id == stream.response.headers["request-id"]
    assert record.service_tier == "standard"
    assert record.latency_ms is not None


def test_the_stream_helper_records_text_iteration_and_the_final_message(
    server: FakeAnthropic, client: anthropic.Anthropic, usage: UsageContext
) -> None:
    server.reply(usage=CACHED_USAGE, content="Hello there")
    with client.messages.stream(model=HAIKU, max_tokens=64, messages=HELLO) as stream:
        assert "".join(stream.text_stream) == "Hello there"
        final = stream.get_final_message()
    assert final.usage.cache_read_input_tokens == 2000
    record = single(usage)
    assert record.cost_usd == CACHED_HAIKU_COST


def test_the_stream_helper_records_event_iteration(
    client: anthropic.Anthropic, usage: UsageContext
) -> None:
    with client.messages.stream(model=HAIKU, max_tokens=64, messages=HELLO) as stream:
        kinds = [event.type for event in stream]
    assert "text" in kinds  # the helper's own events
    assert single(usage).cost_usd == genai_cost(HELLO_COUNTS)


def test_get_final_message_alone_reads_the_stream_and_records_it(
    client: anthropic.Anthropic, usage: UsageContext
) -> None:
    with client.messages.stream(model=HAIKU, max_tokens=64, messages=HELLO) as stream:
        message = stream.get_final_message()
    assert message.usage.output_tokens == 6
    assert single(usage).output_tokens == 6


def test_a_stream_closed_before_its_usage_is_missing_never_zero(
    client: anthropic.Anthropic, usage: UsageContext
) -> None:
    stream = client.messages.create(model=HAIKU, max_tokens=64, messages=HELLO, stream=True)
    for event in stream:
        if event.type == "content_block_delta":
            break
    stream.close()
    assert_missing(usage)
    assert single(usage).latency_ms is not None


def test_leaving_the_stream_helper_early_records_the_call_once(
    client: anthropic.Anthropic, usage: UsageContext
) -> None:
    with client.messages.stream(model=HAIKU, max_tokens=64, messages=HELLO) as stream:
        next(iter(stream))
    assert_missing(usage)
    gc.collect()
    assert len(usage.records) == 1


def test_breaking_out_records_the_call_at_the_next_read(
    client: anthropic.Anthropic, usage: UsageContext
) -> None:
    stream = client.messages.create(model=HAIKU, max_tokens=64, messages=HELLO, stream=True)
    for _ in stream:
        break
    assert_missing(usage)  # reading the records settles the stream that was left
    stream.close()
    assert len(usage.records) == 1


def test_an_unconsumed_stream_is_recorded_when_garbage_collected(
    client: anthropic.Anthropic, usage: UsageContext
) -> None:
    stream = client.messages.create(model=HAIKU, max_tokens=64, messages=HELLO, stream=True)
    del stream
    gc.collect()
    record = single(usage)
    assert record.usage_status == "missing"
    assert record.latency_ms is None  # when it ended is unknown


def test_a_stream_read_to_its_delta_then_collected_keeps_its_usage(
    server: FakeAnthropic, client: anthropic.Anthropic, usage: UsageContext
) -> None:
    server.reply(usage=CACHED_USAGE)
    stream = client.messages.create(model=HAIKU, max_tokens=64, messages=HELLO, stream=True)
    iterator = iter(stream)
    while next(iterator).type != "message_delta":
        pass
    del stream, iterator
    gc.collect()
    record = single(usage)
    assert record.cost_usd == CACHED_HAIKU_COST


class _SseBody(httpx2.SyncByteStream):
    """SSE events, then either an error event or a dropped connection."""

    def __init__(self, events: list[dict[str, Any]], *, then: str) -> None:
        self.events = events
        self.then = then

    def __iter__(self) -> Iterator[bytes]:
        for event in self.events:
            yield f"event: {event['type']}\ndata: {json.dumps(event)}\n\n".encode()
        if self.then == "error":
            error = {
                "type": "error",
                "error": {"type": "overloaded_error", "message": "Overloaded"},
            }
            yield f"event: error\ndata: {json.dumps(error)}\n\n".encode()
        else:
            raise httpx2.ReadError("connection reset by peer")


_START = {
    "type": "message_start",
    "message": {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": HAIKU,
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {"input_tokens": 10, "output_tokens": 1},
    },
}
_BLOCK = {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}


@pytest.mark.parametrize(
    ("then", "error_class"),
    [("drop", anthropic.APIConnectionError), ("error", anthropic.APIStatusError)],
)
def test_a_stream_broken_midway_is_recorded_with_its_error_and_reraised(
    usage: UsageContext, then: str, error_class: type[Exception]
) -> None:
    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(
            200,
            headers={"content-type": "text/event-stream", "request-id": "req_broken"},
            stream=_SseBody([_START, _BLOCK], then=then),
        )

    http_client = anthropic.DefaultHttpxClient(transport=httpx2.MockTransport(handler))
    with anthropic.Anthropic(
        api_key=API_KEY, base_url="http://test", max_retries=0, http_client=http_client
    ) as plain:
        stream = wrap_anthropic(plain).messages.create(
            model=HAIKU, max_tokens=64, messages=HELLO, stream=True
        )
        with pytest.raises(error_class) as raised:
            for _ in stream:
                pass
    record = single(usage)
    assert record.error is not None
    assert record.error.type == type(raised.value).__name__
    assert record.usage_status == "missing"  # no message_delta: the output is unknown
    assert record.cost_usd is None
    assert record.model == HAIKU
    assert record.request_id == "req_broken"
    assert usage.totals.errors == 1


def test_a_raw_streamed_response_is_recorded_when_its_stream_is_read(
    server: FakeAnthropic, client: anthropic.Anthropic, usage: UsageContext
) -> None:
    server.reply(usage=CACHED_USAGE)
    raw = client.messages.with_raw_response.create(
        model=HAIKU, max_tokens=64, messages=HELLO, stream=True
    )
    assert usage.records == []
    for _ in raw.parse():
        pass
    assert single(usage).cost_usd == CACHED_HAIKU_COST


def test_a_streaming_response_of_a_stream_is_recorded_once(
    server: FakeAnthropic, client: anthropic.Anthropic, usage: UsageContext
) -> None:
    server.reply(usage=CACHED_USAGE)
    with client.messages.with_streaming_response.create(
        model=HAIKU, max_tokens=64, messages=HELLO, stream=True
    ) as raw:
        events = list(raw.parse())
    assert events[-1].type == "message_stop"
    assert single(usage).cost_usd == CACHED_HAIKU_COST


def test_a_stream_collected_elsewhere_is_recorded_in_the_context_of_its_call(
    client: anthropic.Anthropic,
) -> None:
    with ai_usage_context("caller") as caller:
        stream = client.messages.create(model=HAIKU, max_tokens=64, messages=HELLO, stream=True)
    with ai_usage_context("bystander") as bystander:
        del stream
        gc.collect()
    assert bystander.records == []
    assert single(caller).context_path == ("caller",)


# -- async -------------------------------------------------------------------------------------


def test_async_streams_are_recorded_when_exhausted_closed_or_collected(
    server: FakeAnthropic, usage: UsageContext
) -> None:
    async def main() -> None:
        async with async_sdk_client(server) as plain:
            client = wrap_anthropic(plain)
            server.reply(usage=CACHED_USAGE)
            exhausted = await client.messages.create(
                model=HAIKU, max_tokens=64, messages=HELLO, stream=True
            )
            async for _ in exhausted:
                pass
            closed = await client.messages.create(
                model=HAIKU, max_tokens=64, messages=HELLO, stream=True
            )
            async for _ in closed:
                break
            await closed.close()
            collected = await client.messages.create(
                model=HAIKU, max_tokens=64, messages=HELLO, stream=True
            )
            del collected
            gc.collect()

    asyncio.run(main())
    exhausted, closed, collected = usage.records
    assert exhausted.cost_usd == CACHED_HAIKU_COST
    assert counts_of(exhausted) == CACHED_COUNTS
    assert closed.usage_status == collected.usage_status == "missing"
    assert collected.latency_ms is None


def test_the_async_stream_helper_records_its_usage(
    server: FakeAnthropic, usage: UsageContext
) -> None:
    async def main() -> str:
        async with async_sdk_client(server) as plain:
            client = wrap_anthropic(plain)
            server.reply(usage=CACHED_USAGE, content="Hi there")
            async with client.messages.stream(model=HAIKU, max_tokens=64, messages=HELLO) as stream:
                text = "".join([piece async for piece in stream.text_stream])
                await stream.get_final_message()
            async with client.messages.stream(model=HAIKU, max_tokens=64, messages=HELLO) as stream:
                await stream.get_final_message()
            return text

    assert asyncio.run(main()) == "Hi there"
    helper, final_only = usage.records
    assert helper.cost_usd == CACHED_HAIKU_COST
    assert final_only.cost_usd == genai_cost(HELLO_COUNTS)


class _AsyncBrokenBody(httpx2.AsyncByteStream):
    async def __aiter__(self) -> AsyncIterator[bytes]:
        for event in (_START, _BLOCK):
            yield f"event: {event['type']}\ndata: {json.dumps(event)}\n\n".encode()
        raise httpx2.ReadError("connection reset by peer")


def test_an_async_stream_broken_midway_is_recorded_with_its_error(usage: UsageContext) -> None:
    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(
            200,
            headers={"content-type": "text/event-stream", "request-id": "req_broken"},
            stream=_AsyncBrokenBody(),
        )

    async def main() -> None:
        http_client = anthropic.DefaultAsyncHttpxClient(transport=httpx2.MockTransport(handler))
        async with anthropic.AsyncAnthropic(
            api_key=API_KEY, base_url="http://test", max_retries=0, http_client=http_client
        ) as plain:
            stream = await wrap_anthropic(plain).messages.create(
                model=HAIKU, max_tokens=64, messages=HELLO, stream=True
            )
            with pytest.raises(anthropic.APIConnectionError):
                async for _ in stream:
                    pass

    asyncio.run(main())
    record = single(usage)
    assert record.error is not None
    assert record.error.type == "APIConnectionError"
    assert record.usage_status == "missing"
    assert record.request_id == "req_broken"
