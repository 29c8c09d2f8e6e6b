"""Anthropic calls through the real ``anthropic`` SDK over loopback HTTP: each becomes one
record, normalised to the vocabulary and priced exactly (checked against genai-prices,
computed here, and by hand)."""

from __future__ import annotations

import asyncio
import json
import logging
from decimal import Decimal
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
    SONNET,
    async_sdk_client,
    counts_of,
    genai_cost,
    sdk_client,
    single,
)

from aiusage_core import (
    Budget,
    BudgetExceededError,
    ConfigurationError,
    UsageContext,
    ai_usage_context,
    instrument_anthropic,
    uninstrument_anthropic,
    wrap_anthropic,
)
from pytest_aiusage.fake_openai import NO_USAGE, FakeAnthropic

# -- plain messages ----------------------------------------------------------------------------


def test_a_message_is_recorded_with_cache_tokens_inside_the_input_and_its_exact_cost(
    server: FakeAnthropic, client: anthropic.Anthropic, usage: UsageContext
) -> None:
    server.reply(usage=CACHED_USAGE)
    message = client.messages.create(model=HAIKU, max_tokens=64, messages=HELLO)

    record = single(usage)
    assert counts_of(record) == CACHED_COUNTS
    assert record.cost_usd == CACHED_HAIKU_COST
    assert record.cost_usd == genai_cost(CACHED_COUNTS)
    assert (record.provider, record.api, record.model) == ("anthropic", "messages", HAIKU)
    assert record.service_tier == "standard"
    assert record.request_id == message._request_id
    assert record.request_id is not None
    assert record.request_id.startswith("req_")
    assert record.usage_status == "reported"
    assert record.error is None
    assert record.batch is False
    assert record.latency_ms is not None


def test_unscripted_usage_is_priced_from_input_and_output_alone(
    client: anthropic.Anthropic, usage: UsageContext
) -> None:
    message = client.messages.create(model=SONNET, max_tokens=64, messages=HELLO)
    record = single(usage)
    assert record.input_tokens == message.usage.input_tokens == 10
    assert record.output_tokens == message.usage.output_tokens == 6
    # $3/MTok in, $15/MTok out.
    assert record.cost_usd == Decimal("0.00012")
    assert record.cost_usd == genai_cost({"input_tokens": 10, "output_tokens": 6}, SONNET)


def test_thinking_tokens_are_reasoning_inside_the_output(
    server: FakeAnthropic, client: anthropic.Anthropic, usage: UsageContext
) -> None:
    server.reply(
        usage={
            "input_tokens": 5,
            "output_tokens": 90,
            "output_tokens_details": {"thinking_tokens": 70},
        }
    )
    client.messages.create(model=HAIKU, max_tokens=128, messages=HELLO)
    record = single(usage)
    assert (record.output_tokens, record.reasoning_tokens) == (90, 70)
    assert record.cost_usd == genai_cost({"input_tokens": 5, "output_tokens": 90})


def test_the_service_tier_of_the_usage_is_recorded(
    server: FakeAnthropic, client: anthropic.Anthropic, usage: UsageContext
) -> None:
    server.reply(service_tier="priority")
    client.messages.create(model=HAIKU, max_tokens=64, messages=HELLO)
    assert single(usage).service_tier == "priority"


def test_the_served_model_is_recorded_and_priced(
    server: FakeAnthropic, client: anthropic.Anthropic, usage: UsageContext
) -> None:
    server.reply(model="claude-haiku-4-5-20251001")
    client.messages.create(model=HAIKU, max_tokens=64, messages=HELLO)
    record = single(usage)
    assert record.model == "claude-haiku-4-5-20251001"
    assert record.cost_usd == genai_cost(
        {"input_tokens": 10, "output_tokens": 6}, "claude-haiku-4-5-20251001"
    )


def test_a_message_without_usage_is_missing_never_zero_cost(
    server: FakeAnthropic, client: anthropic.Anthropic, usage: UsageContext
) -> None:
    server.reply(usage=NO_USAGE)
    client.messages.create(model=HAIKU, max_tokens=64, messages=HELLO)
    record = single(usage)
    assert record.usage_status == "missing"
    assert record.cost_usd is None


def test_an_unknown_model_is_unpriced_never_zero(
    client: anthropic.Anthropic, usage: UsageContext
) -> None:
    client.messages.create(model="claude-made-up-9", max_tokens=64, messages=HELLO)
    record = single(usage)
    assert record.usage_status == "reported"
    assert record.cost_usd is None
    assert usage.totals.unpriced_calls == 1


def test_count_tokens_is_never_a_call(client: anthropic.Anthropic, usage: UsageContext) -> None:
    counted = client.messages.count_tokens(model=HAIKU, messages=HELLO)
    assert counted.input_tokens == 10
    client.beta.messages.count_tokens(model=HAIKU, messages=HELLO)
    assert usage.records == []


def test_beta_messages_are_tracked_the_same_way(
    server: FakeAnthropic, client: anthropic.Anthropic, usage: UsageContext
) -> None:
    server.reply(usage=CACHED_USAGE)
    client.beta.messages.create(model=HAIKU, max_tokens=64, messages=HELLO)
    record = single(usage)
    assert counts_of(record) == CACHED_COUNTS
    assert record.cost_usd == CACHED_HAIKU_COST


def test_a_beta_query_request_is_tracked(
    server: FakeAnthropic, client: anthropic.Anthropic, usage: UsageContext
) -> None:
    # Older SDKs and hand-made requests ask for beta features with ``?beta=true``.
    client.post(
        "/v1/messages?beta=true",
        body={"model": HAIKU, "max_tokens": 8, "messages": HELLO},
        cast_to=anthropic.types.Message,
    )
    assert server.requests[-1].query == {"beta": "true"}
    assert single(usage).input_tokens == 10


def test_an_async_message_is_recorded(server: FakeAnthropic, usage: UsageContext) -> None:
    async def main() -> None:
        async with async_sdk_client(server) as plain:
            client = wrap_anthropic(plain)
            server.reply(usage=CACHED_USAGE)
            await client.messages.create(model=HAIKU, max_tokens=64, messages=HELLO)
            await client.messages.count_tokens(model=HAIKU, messages=HELLO)

    asyncio.run(main())
    record = single(usage)
    assert counts_of(record) == CACHED_COUNTS
    assert record.cost_usd == CACHED_HAIKU_COST


# -- raw and streaming responses ---------------------------------------------------------------


def test_with_raw_response_is_recorded_once_whether_parsed_or_not(
    server: FakeAnthropic, client: anthropic.Anthropic, usage: UsageContext
) -> None:
    server.reply(usage=CACHED_USAGE)
    raw = client.messages.with_raw_response.create(model=HAIKU, max_tokens=64, messages=HELLO)
    record = single(usage)  # recorded before parse(): the body was read already
    assert counts_of(record) == CACHED_COUNTS
    assert record.request_id == raw.headers["request-id"]
    raw.parse()
    assert len(usage.records) == 1


def test_with_streaming_response_is_recorded_when_read(
    server: FakeAnthropic, client: anthropic.Anthropic, usage: UsageContext
) -> None:
    server.reply(usage=CACHED_USAGE)
    with client.messages.with_streaming_response.create(
        model=HAIKU, max_tokens=64, messages=HELLO
    ) as raw:
        assert usage.records == []
        message = raw.parse()
    assert message.usage.cache_read_input_tokens == 2000
    record = single(usage)
    assert record.cost_usd == CACHED_HAIKU_COST
    assert record.request_id == raw.headers["request-id"]


def test_with_streaming_response_closed_unread_is_recorded_as_missing(
    client: anthropic.Anthropic, usage: UsageContext
) -> None:
    with client.messages.with_streaming_response.create(model=HAIKU, max_tokens=64, messages=HELLO):
        pass
    record = single(usage)
    assert record.usage_status == "missing"
    assert record.cost_usd is None


def test_async_raw_responses_are_recorded(server: FakeAnthropic, usage: UsageContext) -> None:
    async def main() -> None:
        async with async_sdk_client(server) as plain:
            client = wrap_anthropic(plain)
            server.reply(usage=CACHED_USAGE)
            raw = await client.messages.with_raw_response.create(
                model=HAIKU, max_tokens=64, messages=HELLO
            )
            await raw.parse()
            async with client.messages.with_streaming_response.create(
                model=HAIKU, max_tokens=64, messages=HELLO
            ) as streaming:
                await streaming.parse()

    asyncio.run(main())
    first, second = usage.records
    assert first.cost_usd == CACHED_HAIKU_COST
    assert second.input_tokens == 10


# -- errors ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "error_class"),
    [
        (400, anthropic.BadRequestError),
        (429, anthropic.RateLimitError),
        (529, anthropic.OverloadedError),
    ],
)
def test_an_error_status_is_recorded_as_a_failed_call_at_zero_cost(
    server: FakeAnthropic,
    client: anthropic.Anthropic,
    usage: UsageContext,
    status: int,
    error_class: type[anthropic.APIStatusError],
) -> None:
    server.reply(status=status)
    with pytest.raises(error_class) as raised:
        client.messages.create(model=HAIKU, max_tokens=64, messages=HELLO)
    record = single(usage)
    assert record.error is not None
    assert record.error.type == error_class.__name__
    assert record.error.message == str(raised.value)
    assert record.request_id == raised.value.request_id
    assert (record.input_tokens, record.output_tokens) == (0, 0)
    assert record.cost_usd == Decimal(0)
    assert usage.totals.errors == 1


def test_a_request_that_never_left_is_a_failed_call_at_zero_cost(usage: UsageContext) -> None:
    with FakeAnthropic() as fake:
        url = fake.url  # stopped when the block ends: nothing listens there any more
    with anthropic.Anthropic(api_key=API_KEY, base_url=url, max_retries=0) as plain:
        client = wrap_anthropic(plain)
        with pytest.raises(anthropic.APIConnectionError):
            client.messages.create(model="claude-made-up-9", max_tokens=64, messages=HELLO)
    record = single(usage)
    assert record.error is not None
    assert record.error.type == "APIConnectionError"
    assert record.cost_usd == Decimal(0)


# -- message batches -------------------------------------------------------------------------


def _batch_requests(*ids: str) -> list[Any]:
    return [
        {"custom_id": custom_id, "params": {"model": HAIKU, "max_tokens": 64, "messages": HELLO}}
        for custom_id in ids
    ]


def test_batch_results_are_recorded_once_each_at_the_batch_rate(
    server: FakeAnthropic, client: anthropic.Anthropic, usage: UsageContext
) -> None:
    server.reply(usage=CACHED_USAGE)
    batch = client.messages.batches.create(requests=_batch_requests("a", "b"))
    assert usage.records == []  # creating a batch costs nothing
    client.messages.batches.retrieve(batch.id)
    assert usage.records == []

    results = list(client.messages.batches.results(batch.id))
    first, second = usage.records
    batch_cost = genai_cost(CACHED_COUNTS, processing="batch")
    for record, result in zip((first, second), results, strict=True):
        assert counts_of(record) == CACHED_COUNTS
        assert record.batch is True
        assert record.cost_usd == batch_cost
        assert record.request_id == result.result.message.id  # type: ignore[union-attr]
        assert record.latency_ms is None
    # Half of every token rate; web searches are not discounted.
    assert batch_cost == (CACHED_HAIKU_COST - Decimal("0.02")) / 2 + Decimal("0.02")

    list(client.messages.batches.results(batch.id))  # read again: the same calls
    assert len(usage.records) == 2


def test_async_batch_results_are_recorded(server: FakeAnthropic, usage: UsageContext) -> None:
    async def main() -> int:
        async with async_sdk_client(server) as plain:
            client = wrap_anthropic(plain)
            batch = await client.beta.messages.batches.create(requests=_batch_requests("x"))
            results = await client.beta.messages.batches.results(batch.id)
            return len([item async for item in results])

    assert asyncio.run(main()) == 1
    record = single(usage)
    assert record.batch is True
    assert record.service_tier == "batch"
    assert record.cost_usd == genai_cost(
        {"input_tokens": 10, "output_tokens": 6}, processing="batch"
    )


# -- Bedrock, Vertex and other providers -----------------------------------------------------


def test_vertex_clients_are_recorded_under_google(
    server: FakeAnthropic, usage: UsageContext
) -> None:
    with anthropic.AnthropicVertex(
        region="us-east5", project_id="p", access_token="tok", base_url=server.url, max_retries=0
    ) as plain:
        client = wrap_anthropic(plain)
        server.reply(usage=CACHED_USAGE)
        client.messages.create(model="claude-haiku-4-5@20251001", max_tokens=64, messages=HELLO)
        list(client.messages.create(model=HAIKU, max_tokens=64, messages=HELLO, stream=True))
    plain_record, streamed = usage.records
    assert plain_record.provider == streamed.provider == "google"
    assert plain_record.cost_usd == genai_cost(
        CACHED_COUNTS, "claude-haiku-4-5@20251001", provider="google"
    )
    assert streamed.cost_usd == genai_cost(
        {"input_tokens": 10, "output_tokens": 6}, provider="google"
    )


def test_bedrock_clients_are_recorded_under_aws_and_unknown_models_unpriced(
    server: FakeAnthropic, usage: UsageContext
) -> None:
    model = "global.anthropic.claude-haiku-4-5-20251001-v1:0"
    with anthropic.AnthropicBedrock(
        api_key="bedrock-key", aws_region="us-east-1", base_url=server.url, max_retries=0
    ) as plain:
        client = wrap_anthropic(plain)
        client.messages.create(model=model, max_tokens=64, messages=HELLO)
        client.messages.create(model="anthropic.claude-made-up-v9:0", max_tokens=64, messages=HELLO)
    known, unknown = usage.records
    assert (known.provider, known.model) == ("aws", model)
    assert known.cost_usd == genai_cost(
        {"input_tokens": 10, "output_tokens": 6}, model, provider="aws"
    )
    assert unknown.provider == "aws"
    assert unknown.cost_usd is None  # unpriced, never $0


def test_the_provider_option_overrides_the_clients(
    server: FakeAnthropic, plain_client: anthropic.Anthropic, usage: UsageContext
) -> None:
    client = wrap_anthropic(plain_client, provider="google")
    client.messages.create(model=HAIKU, max_tokens=64, messages=HELLO)
    assert single(usage).provider == "google"


# -- wrapping and instrumenting --------------------------------------------------------------


def test_wrap_anthropic_returns_the_client_and_tracks_derived_clients(
    plain_client: anthropic.Anthropic, usage: UsageContext
) -> None:
    client = wrap_anthropic(plain_client, metadata={"team": "ocr"})
    assert client is plain_client
    assert isinstance(client, anthropic.Anthropic)
    client.with_options(timeout=5).messages.create(model=HAIKU, max_tokens=64, messages=HELLO)
    assert single(usage).metadata["team"] == "ocr"
    wrap_anthropic(client)  # again: still counted once
    client.messages.create(model=HAIKU, max_tokens=64, messages=HELLO)
    assert len(usage.records) == 2


def test_wrap_anthropic_refuses_what_is_not_an_anthropic_client() -> None:
    with pytest.raises(ConfigurationError, match="wrap_anthropic"):
        wrap_anthropic(object())  # type: ignore[type-var]
    with (
        pytest.raises(ConfigurationError, match="provider"),
        anthropic.Anthropic(api_key=API_KEY) as client,
    ):
        wrap_anthropic(client, provider="")


def test_instrument_anthropic_tracks_every_client_until_undone(
    server: FakeAnthropic, plain_client: anthropic.Anthropic, usage: UsageContext
) -> None:
    instrument_anthropic(metadata={"via": "instrument"})
    plain_client.messages.create(model=HAIKU, max_tokens=64, messages=HELLO)
    with sdk_client(server) as later:
        later.messages.create(model=HAIKU, max_tokens=64, messages=HELLO)
        wrap_anthropic(later).messages.create(model=HAIKU, max_tokens=64, messages=HELLO)
    assert len(usage.records) == 3  # the wrapped client's call counted once
    assert usage.records[0].metadata["via"] == "instrument"
    uninstrument_anthropic()
    plain_client.messages.create(model=HAIKU, max_tokens=64, messages=HELLO)
    assert len(usage.records) == 3
    assert "request" not in anthropic.Anthropic.__dict__


# -- budgets ---------------------------------------------------------------------------------


def test_a_hard_budget_reserves_max_tokens_exactly_and_refuses_before_sending(
    server: FakeAnthropic, client: anthropic.Anthropic
) -> None:
    with ai_usage_context("job", budget=Budget(output_tokens=100)) as job:
        client.messages.create(model=HAIKU, max_tokens=64, messages=HELLO)  # 6 output tokens
        with pytest.raises(BudgetExceededError) as refused:
            client.messages.create(model=HAIKU, max_tokens=95, messages=HELLO)
    assert len(server.requests) == 1
    error = refused.value
    assert error.limit == "output_tokens"
    assert error.requested == 95
    assert error.spent == 6
    assert job.totals.output_tokens == 6


def test_the_input_bound_counts_only_the_parameters_given(
    server: FakeAnthropic, client: anthropic.Anthropic
) -> None:
    # The SDK's body holds a placeholder (Omit) for each of the 14 parameters not given; it
    # sends none of them, so none may count towards the input bound (each would add about
    # 45 phantom tokens, 630 here).
    sent = {"max_tokens": 64, "messages": HELLO, "model": HAIKU, "stream": True}
    with ai_usage_context("job", budget=Budget(input_tokens=10_000)) as job:
        stream = client.messages.create(model=HAIKU, max_tokens=64, messages=HELLO, stream=True)
        assert job.budget is not None
        assert job.budget.reserved.input_tokens == len(repr(sent))  # held while it streams
        for _ in stream:
            pass
        assert job.budget.reserved.input_tokens == 0
    assert server.requests[0].json == sent


def test_batch_results_are_charged_on_a_budget_but_never_refused(
    server: FakeAnthropic, client: anthropic.Anthropic
) -> None:
    batch = client.messages.batches.create(requests=_batch_requests("a", "b"))
    with ai_usage_context("job", budget=Budget(output_tokens=8)) as job:
        results = list(client.messages.batches.results(batch.id))
    assert len(results) == 2
    assert job.totals.output_tokens == 12  # charged, over the limit: the spend happened
    assert job.totals.calls == 2


def test_a_reading_failure_is_logged_and_never_breaks_the_call(
    server: FakeAnthropic,
    client: anthropic.Anthropic,
    usage: UsageContext,
    caplog: pytest.LogCaptureFixture,
) -> None:
    server.reply(usage={"input_tokens": -1, "output_tokens": 3})
    with caplog.at_level(logging.WARNING, logger="aiusage"):
        message = client.messages.create(model=HAIKU, max_tokens=64, messages=HELLO)
    assert message.usage.input_tokens == -1
    assert single(usage).usage_status == "missing"
    assert "unusable usage" in caplog.text


def test_batch_results_read_in_another_context_are_that_contexts_calls(
    server: FakeAnthropic, client: anthropic.Anthropic
) -> None:
    # Another test replaying one cassette reads the same results: they are its calls too.
    batch = client.messages.batches.create(requests=_batch_requests("a"))
    with ai_usage_context("first") as first:
        list(client.messages.batches.results(batch.id))
        list(client.messages.batches.results(batch.id))
    with ai_usage_context("second") as second:
        list(client.messages.batches.results(batch.id))
    assert len(first.records) == len(second.records) == 1


def test_only_succeeded_batch_results_are_calls(usage: UsageContext) -> None:
    message = {
        "id": "msg_ok",
        "type": "message",
        "role": "assistant",
        "model": HAIKU,
        "content": [{"type": "text", "text": "ok"}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": 10, "output_tokens": 6, "service_tier": "batch"},
    }
    error = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    lines = [
        {"custom_id": "ok", "result": {"type": "succeeded", "message": message}},
        {"custom_id": "failed", "result": {"type": "errored", "error": error}},
        {"custom_id": "late", "result": {"type": "expired"}},
        {"custom_id": "stopped", "result": {"type": "canceled"}},
    ]
    batch = {
        "id": "msgbatch_1",
        "type": "message_batch",
        "processing_status": "ended",
        "request_counts": {
            "processing": 0,
            "succeeded": 1,
            "errored": 1,
            "canceled": 1,
            "expired": 1,
        },
        "created_at": "2026-01-01T00:00:00Z",
        "ended_at": "2026-01-01T00:01:00Z",
        "expires_at": "2026-01-02T00:00:00Z",
        "archived_at": None,
        "cancel_initiated_at": None,
        "results_url": "https://api.anthropic.com/v1/messages/batches/msgbatch_1/results",
    }

    def handler(request: httpx2.Request) -> httpx2.Response:
        if request.url.path.endswith("/results"):
            body = "".join(json.dumps(line) + "\n" for line in lines).encode()
            return httpx2.Response(200, content=body, headers={"request-id": "req_results"})
        return httpx2.Response(200, json=batch, headers={"request-id": "req_batch"})

    http_client = anthropic.DefaultHttpxClient(transport=httpx2.MockTransport(handler))
    with anthropic.Anthropic(api_key=API_KEY, max_retries=0, http_client=http_client) as plain:
        results = list(wrap_anthropic(plain).messages.batches.results("msgbatch_1"))
    assert len(results) == 4
    record = single(usage)
    assert record.request_id == "msg_ok"
    assert record.batch is True
    assert record.cost_usd == genai_cost(
        {"input_tokens": 10, "output_tokens": 6}, processing="batch"
    )


def test_raw_batch_results_are_recorded_when_parsed(
    server: FakeAnthropic, client: anthropic.Anthropic, usage: UsageContext
) -> None:
    batch = client.messages.batches.create(requests=_batch_requests("a", "b"))
    raw = client.messages.batches.with_raw_response.results(batch.id)
    assert usage.records == []  # nothing read yet
    assert [item.custom_id for item in raw.parse()] == ["a", "b"]
    with client.messages.batches.with_streaming_response.results(batch.id) as streaming:
        assert len(list(streaming.parse())) == 2  # the same calls, in the same context
    assert [record.batch for record in usage.records] == [True, True]


def test_async_raw_batch_results_are_recorded_when_parsed(
    server: FakeAnthropic, usage: UsageContext
) -> None:
    async def main() -> int:
        async with async_sdk_client(server) as plain:
            client = wrap_anthropic(plain)
            batch = await client.messages.batches.create(requests=_batch_requests("x"))
            raw = await client.messages.batches.with_raw_response.results(batch.id)
            return len([item async for item in await raw.parse()])

    assert asyncio.run(main()) == 1
    assert single(usage).batch is True
