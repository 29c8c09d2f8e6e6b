"""Failed calls are recorded with their error, counted in ``errors``, never priced as a
made-up zero for an unknown model, and the SDK's exception reaches the caller unchanged."""

from __future__ import annotations

import asyncio
import logging
from decimal import Decimal

import httpx2
import openai
import pytest
from openai_testing import API_KEY, HELLO, async_sdk_client, sdk_client, single

from aiusage_core import UsageContext, ai_usage_context, wrap_openai
from pytest_aiusage.fake_openai import FakeOpenAI

STATUS_ERRORS = [
    (429, openai.RateLimitError),
    (500, openai.InternalServerError),
    (400, openai.BadRequestError),
]


def _raise_through(client: openai.OpenAI) -> openai.APIError:
    with pytest.raises(openai.APIError) as raised:
        client.chat.completions.create(model="gpt-4o-mini", messages=HELLO)
    return raised.value


@pytest.mark.parametrize(("status", "error_class"), STATUS_ERRORS)
def test_an_error_status_is_recorded_and_the_sdk_exception_reaches_the_caller(
    server: FakeOpenAI, usage: UsageContext, status: int, error_class: type[Exception]
) -> None:
    server.reply(status=status)
    with sdk_client(server) as plain:
        expected = _raise_through(plain)
    server.reply(status=status)
    with sdk_client(server) as plain:
        got = _raise_through(wrap_openai(plain))

    assert type(got) is error_class
    assert type(got) is type(expected)
    assert str(got) == str(expected)
    # Nothing of ours is chained onto it.
    assert got.__cause__ is expected.__cause__ is None
    assert type(got.__context__) is type(expected.__context__)
    # Only the wrapped call is recorded.
    record = single(usage)
    assert record.error is not None
    assert record.error.type == error_class.__name__
    assert record.error.message == str(got)
    assert record.request_id == got.request_id  # type: ignore[attr-defined]
    assert (record.input_tokens, record.output_tokens) == (0, 0)
    # The API answered that it did no work, and OpenAI bills none: $0 for a known model.
    assert record.cost_usd == Decimal(0)
    assert record.model == "gpt-4o-mini"
    assert usage.totals.errors == 1
    assert usage.totals.unpriced_calls == 0


def test_a_failed_call_of_an_unknown_model_is_not_priced_at_zero(
    server: FakeOpenAI, client: openai.OpenAI, usage: UsageContext
) -> None:
    server.reply(status=404)
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model="no-such-model", messages=HELLO)
    record = single(usage)
    assert record.cost_usd is None
    assert usage.totals.errors == 1
    assert usage.totals.unpriced_calls == 1


def test_a_dropped_connection_is_recorded_as_missing_usage_with_its_error(
    server: FakeOpenAI, client: openai.OpenAI, usage: UsageContext
) -> None:
    server.reply(drop_connection=True)
    with pytest.raises(openai.APIConnectionError) as raised:
        client.embeddings.create(model="text-embedding-3-small", input="Hi")
    assert type(raised.value) is openai.APIConnectionError
    record = single(usage)
    assert record.error is not None
    assert record.error.type == "APIConnectionError"
    # The request may have been processed (and billed) before the connection dropped.
    assert record.usage_status == "missing"
    assert record.cost_usd is None
    assert usage.totals.errors == 1


@pytest.mark.parametrize("model", ["gpt-4o-mini", "my-private-model"])
def test_a_request_that_never_left_is_a_failed_call_not_unpriced_spend(
    server: FakeOpenAI, usage: UsageContext, model: str
) -> None:
    url = server.url
    server.stop()  # nothing listens on its port any more: the connection is refused
    with (
        openai.OpenAI(api_key=API_KEY, base_url=url, max_retries=0) as plain,
        pytest.raises(openai.APIConnectionError) as raised,
    ):
        wrap_openai(plain).chat.completions.create(model=model, messages=HELLO)
    assert type(raised.value.__cause__) is httpx2.ConnectError
    record = single(usage)
    assert record.error is not None
    assert record.error.type == "APIConnectionError"
    # Nothing reached the API, so nothing was billed, whatever the model: $0, not unknown.
    assert (record.input_tokens, record.output_tokens, record.cost_usd) == (0, 0, Decimal(0))
    assert record.usage_status == "reported"
    assert (usage.totals.errors, usage.totals.unpriced_calls) == (1, 0)


def test_a_timeout_is_recorded_as_missing_usage_with_its_error(
    server: FakeOpenAI, usage: UsageContext
) -> None:
    server.reply(delay=5.0)  # woken up when the server stops at the end of the test
    with sdk_client(server, timeout=0.05) as plain, pytest.raises(openai.APITimeoutError):
        wrap_openai(plain).chat.completions.create(model="gpt-4o-mini", messages=HELLO)
    record = single(usage)
    assert record.error is not None
    assert record.error.type == "APITimeoutError"
    assert record.usage_status == "missing"


def test_async_failures_are_recorded_and_reraised(server: FakeOpenAI, usage: UsageContext) -> None:
    async def main() -> None:
        async with async_sdk_client(server) as plain:
            client = wrap_openai(plain)
            server.reply(status=429)
            with pytest.raises(openai.RateLimitError):
                await client.responses.create(model="gpt-4o-mini", input="Hi")
            server.reply(drop_connection=True)
            with pytest.raises(openai.APIConnectionError):
                await client.chat.completions.create(
                    model="gpt-4o-mini", messages=HELLO, stream=True
                )

    asyncio.run(main())
    assert [(r.api, r.error.type if r.error else None, r.usage_status) for r in usage.records] == [
        ("responses", "RateLimitError", "reported"),
        ("chat", "APIConnectionError", "missing"),
    ]
    assert usage.totals.errors == 2


def test_an_error_leaving_the_context_keeps_the_failed_call_on_it(server: FakeOpenAI) -> None:
    server.reply(status=500)
    with sdk_client(server) as plain:
        client = wrap_openai(plain)
        with pytest.raises(openai.InternalServerError), ai_usage_context("job") as job:
            client.chat.completions.create(model="gpt-4o-mini", messages=HELLO)
    assert job.error is not None
    assert job.error.type == "InternalServerError"
    assert job.totals.errors == 1


def test_an_unknown_model_is_recorded_unpriced_with_one_warning(
    server: FakeOpenAI,
    client: openai.OpenAI,
    usage: UsageContext,
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="aiusage"):
        for _ in range(2):
            server.reply()  # the fake server answers an unknown model only when scripted
            client.chat.completions.create(model="my-own-model-7b", messages=HELLO)
    assert [r.cost_usd for r in usage.records] == [None, None]
    assert [r.usage_status for r in usage.records] == ["reported", "reported"]
    assert usage.records[0].input_tokens > 0
    assert usage.totals.unpriced_calls == 2
    assert usage.totals.errors == 0
    warnings = [r for r in caplog.records if "my-own-model-7b" in r.getMessage()]
    assert len(warnings) == 1
