"""Every billed OpenAI endpoint leaves a record: legacy Completions, Responses compaction,
and background responses, whose usage arrives in the poll that finds them finished."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import openai
import pytest
from openai_testing import async_sdk_client

from aiusage_core import Budget, BudgetExceededError, UsageContext, ai_usage_context, wrap_openai
from pytest_aiusage.fake_openai import FakeOpenAI

LONG_TALK = [
    {"role": "user", "content": "Plan the trip to Lisbon"},
    {"role": "assistant", "content": "Sure: flights, hotel, museums."},
    {"role": "user", "content": "Now the budget"},
]


def test_a_compaction_is_recorded_with_its_usage(
    client: openai.OpenAI, usage: UsageContext
) -> None:
    compacted = client.responses.compact(model="gpt-4o-mini", input=LONG_TALK)
    assert compacted.output[-1].type == "compaction"
    [record] = usage.records
    # The compacted response names no model: the request's is recorded and priced.
    assert (record.api, record.model, record.usage_status) == (
        "responses.compact",
        "gpt-4o-mini",
        "reported",
    )
    assert (record.input_tokens, record.output_tokens) == (
        compacted.usage.input_tokens,
        compacted.usage.output_tokens,
    )
    assert (record.input_tokens, record.output_tokens) == (28, 5)
    # gpt-4o-mini: $0.15 per million input tokens, $0.60 per million output tokens.
    assert record.cost_usd == Decimal("0.0000072")
    assert record.service_tier == "default"


def test_a_compaction_never_gets_metadata_it_would_reject(
    server: FakeOpenAI, plain_client: openai.OpenAI, usage: UsageContext
) -> None:
    client = wrap_openai(plain_client, send_metadata=True)
    client.responses.compact(model="gpt-4o-mini", input=LONG_TALK)
    client.responses.create(model="gpt-4o-mini", input="hi")
    compact, create = server.requests
    assert "metadata" not in compact.json
    assert create.json["metadata"]["environment"] == "test"
    assert usage.totals.calls == 2


def test_legacy_completions_are_recorded_with_every_best_of_candidate(
    client: openai.OpenAI, usage: UsageContext
) -> None:
    completion = client.completions.create(
        model="gpt-3.5-turbo-instruct", prompt="Say hello to Lisbon", best_of=3, max_tokens=20
    )
    [record] = usage.records
    assert (record.api, record.model, record.usage_status) == (
        "completions",
        "gpt-3.5-turbo-instruct",
        "reported",
    )
    assert completion.usage is not None
    # Three candidates of 6 tokens each ("Echo: Say hello to Lisbon").
    assert (record.input_tokens, record.output_tokens) == (4, 18)
    assert record.output_tokens == completion.usage.completion_tokens
    # gpt-3.5-turbo-instruct: $1.50 per million input tokens, $2.00 per million output.
    assert record.cost_usd == Decimal("0.000042")


def test_a_legacy_completion_stream_is_recorded_from_its_usage_chunk(
    plain_client: openai.OpenAI, usage: UsageContext
) -> None:
    client = wrap_openai(plain_client, stream_usage=True)
    chunks = list(
        client.completions.create(model="gpt-3.5-turbo-instruct", prompt="Say hi", stream=True)
    )
    # The usage chunk was asked for by us, so the caller does not see it.
    assert all(chunk.usage is None for chunk in chunks)
    assert "".join(c.choices[0].text for c in chunks) == "Echo: Say hi"
    [record] = usage.records
    assert (record.api, record.usage_status, record.input_tokens, record.output_tokens) == (
        "completions",
        "reported",
        2,
        4,
    )


def test_a_hard_budget_reserves_every_best_of_candidate_of_a_legacy_completion(
    server: FakeOpenAI, client: openai.OpenAI
) -> None:
    # 5 candidates of up to 1,000 tokens at $2.00 per million: $0.01 of output alone.
    with (
        ai_usage_context("job", budget=Budget(usd="0.005")),
        pytest.raises(BudgetExceededError),
    ):
        client.completions.create(
            model="gpt-3.5-turbo-instruct", prompt="hi", best_of=5, max_tokens=1000
        )
    assert server.requests == []


def test_a_background_response_is_recorded_once_when_a_poll_finds_it_completed(
    client: openai.OpenAI,
) -> None:
    with ai_usage_context("research") as research:
        queued = client.responses.create(
            model="gpt-4o-mini", input="Summarise the Lisbon trip", background=True
        )
        assert queued.status == "queued"
        assert queued.usage is None
        assert research.records == []  # no usage yet: not a "missing" record
        assert client.responses.retrieve(queued.id).status == "in_progress"
        assert research.records == []
    with ai_usage_context("poller") as poller:
        done = client.responses.retrieve(queued.id)
        again = client.responses.retrieve(queued.id)
    assert done.status == again.status == "completed"
    assert done.usage is not None
    # Recorded once, in the context that started the work, from the completed response.
    assert poller.records == []
    [record] = research.records
    assert (record.api, record.model, record.usage_status, record.context_path) == (
        "responses",
        "gpt-4o-mini-2024-07-18",
        "reported",
        ("research",),
    )
    assert (record.input_tokens, record.output_tokens) == (
        done.usage.input_tokens,
        done.usage.output_tokens,
    )
    # The request id of the call that created it (the polls are not calls).
    assert record.request_id == queued._request_id
    assert (
        record.cost_usd
        == (Decimal("0.15") * record.input_tokens + Decimal("0.60") * record.output_tokens)
        / 1_000_000
    )


def test_a_cancelled_background_response_is_recorded_without_usage(
    client: openai.OpenAI, usage: UsageContext
) -> None:
    queued = client.responses.create(model="gpt-4o-mini", input="hi", background=True)
    assert client.responses.cancel(queued.id).status == "cancelled"
    client.responses.retrieve(queued.id)  # the poll after the cancel finds it recorded
    [record] = usage.records
    assert (record.usage_status, record.cost_usd) == ("missing", None)


def test_an_async_background_response_is_recorded_when_polled(server: FakeOpenAI) -> None:
    async def main() -> UsageContext:
        async with async_sdk_client(server) as plain:
            client = wrap_openai(plain)
            async with ai_usage_context("async-research") as ctx:
                queued = await client.responses.create(
                    model="gpt-4o-mini", input="hi", background=True
                )
                while (await client.responses.retrieve(queued.id)).status != "completed":
                    pass
            return ctx

    ctx = asyncio.run(main())
    [record] = ctx.records
    assert (record.usage_status, record.input_tokens, record.output_tokens) == ("reported", 7, 3)
