"""Budgets on real SDK calls over loopback HTTP: a refused call never reaches the server.

Worst cases are checked against figures derived from what the server received: the input
bound is the UTF-8 length of the request body written out as text (its ``repr``), priced
with the rest at gpt-4o-mini's rates ($0.15/MTok input, $0.60/MTok output).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from decimal import Decimal
from typing import Any

import openai
import pytest
from openai_testing import HELLO, async_sdk_client, single

from aiusage_core import (
    Budget,
    BudgetExceededError,
    ai_usage_context,
    ai_usage_tracked,
    partial_failure_context,
    propagate,
    record_usage,
    wrap_openai,
)
from pytest_aiusage.fake_openai import NO_USAGE, FakeOpenAI

INPUT_RATE = Decimal("0.15") / 1_000_000
OUTPUT_RATE = Decimal("0.60") / 1_000_000

# What a call capped at 200 output tokens may really use (the fake server's scripted usage
# is not held to the request, so the tests keep it realistic): 10 in, 200 out.
CAPPED_USAGE = {"prompt_tokens": 10, "completion_tokens": 200}
CAPPED_COST = Decimal("0.0001215")


def body_bytes(body: Any) -> int:
    """The input bound of a request body: the UTF-8 length of its ``repr``."""
    return len(repr(body).encode())


def worst_usd(body: Any, output_tokens: int) -> Decimal:
    return body_bytes(body) * INPUT_RATE + output_tokens * OUTPUT_RATE


def test_a_refused_call_never_reaches_the_server(server: FakeOpenAI, client: openai.OpenAI) -> None:
    with ai_usage_context("job", budget=Budget(usd="0.0002")) as job:
        server.reply(usage=CAPPED_USAGE)
        client.chat.completions.create(model="gpt-4o-mini", messages=HELLO, max_tokens=200)
        with pytest.raises(BudgetExceededError) as refused:
            client.chat.completions.create(model="gpt-4o-mini", messages=HELLO, max_tokens=200)
    assert len(server.requests) == 1  # the second request never left
    sent = server.requests[0].json
    error = refused.value
    assert error.limit == "usd"
    assert error.allowed == Decimal("0.0002")
    assert error.context == "job"
    assert error.spent == CAPPED_COST
    assert error.reserved == 0
    assert error.requested == worst_usd(sent, 200)
    assert error.measured == CAPPED_COST + worst_usd(sent, 200)
    assert error.call == "openai chat call to gpt-4o-mini (output cap 200)"
    assert "AI budget of context 'job' refused a call before sending it" in str(error)
    # One money format: every amount of the message with the same decimals.
    assert str(error).endswith(
        "does not fit the usd limit $0.00020000; spent $0.00012150, reserved by calls in "
        "flight $0.00000000"
    )
    assert single(job).cost_usd == CAPPED_COST  # the refused call made no record
    status = job.budget
    assert status is not None
    assert status.refused == (error,)
    assert status.spent.usd == CAPPED_COST
    assert status.remaining.usd == Decimal("0.0002") - CAPPED_COST
    assert status.reserved.usd == 0
    assert not status.exceeded


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
def test_a_refused_async_call_never_reaches_the_server(server: FakeOpenAI, stream: bool) -> None:
    async def main() -> BudgetExceededError:
        async with async_sdk_client(server) as raw:
            client = wrap_openai(raw)
            async with ai_usage_context("job", budget=Budget(calls=1)):
                first = await client.chat.completions.create(
                    model="gpt-4o-mini", messages=HELLO, max_tokens=5, stream=stream
                )
                if stream:
                    async for _ in first:  # type: ignore[union-attr]
                        pass
                with pytest.raises(BudgetExceededError) as refused:
                    await client.chat.completions.create(
                        model="gpt-4o-mini", messages=HELLO, max_tokens=5, stream=stream
                    )
                return refused.value

    error = asyncio.run(main())
    assert len(server.requests) == 1
    assert (error.limit, error.allowed, error.spent, error.reserved) == ("calls", 1, 1, 0)


def test_a_refused_stream_never_reaches_the_server(
    server: FakeOpenAI, client: openai.OpenAI
) -> None:
    with ai_usage_context("job", budget=Budget(output_tokens=150)) as job:
        stream = client.chat.completions.create(
            model="gpt-4o-mini",
            messages=HELLO,
            max_tokens=100,
            stream=True,
            stream_options={"include_usage": True},
        )
        assert job.budget is not None
        assert job.budget.reserved.output_tokens == 100  # held while the stream is open
        with pytest.raises(BudgetExceededError) as refused:
            client.chat.completions.create(
                model="gpt-4o-mini", messages=HELLO, max_tokens=100, stream=True
            )
        assert refused.value.reserved == 100
        assert len(server.requests) == 1
        for _ in stream:
            pass
        spent = single(job).output_tokens
        assert job.budget.reserved.output_tokens == 0  # replaced by what it used
        assert job.budget.spent.output_tokens == spent
        client.chat.completions.create(model="gpt-4o-mini", messages=HELLO, max_tokens=100)
    assert len(server.requests) == 2


def test_every_ancestor_budget_applies_in_threads(
    server: FakeOpenAI, client: openai.OpenAI
) -> None:
    errors: list[BaseException] = []

    def work() -> None:
        with ai_usage_context("batch", budget=Budget(calls=10)):
            for _ in range(3):
                try:
                    client.embeddings.create(model="text-embedding-3-small", input="hi")
                except BudgetExceededError as exc:
                    errors.append(exc)

    with ai_usage_context("job", budget=Budget(calls=4)) as job:
        threads = [threading.Thread(target=propagate(work)) for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert job.totals.calls == 4
    assert len(server.requests) == 4
    assert len(errors) == 5
    assert {e.context for e in errors} == {"job"}  # the inner budgets had room


def test_uncapped_calls_reserve_the_context_window_or_the_budgets_cap(
    server: FakeOpenAI, client: openai.OpenAI
) -> None:
    with (
        ai_usage_context("job", budget=Budget(usd="0.01")),
        pytest.raises(BudgetExceededError) as refused,
    ):
        client.chat.completions.create(model="gpt-4o-mini", messages=HELLO)
    # gpt-4o-mini's context window is 128,000 tokens (genai-prices' data).
    error = refused.value
    assert error.call == "openai chat call to gpt-4o-mini (no output cap)"
    assert (
        error.requested
        == body_bytes({"messages": HELLO, "model": "gpt-4o-mini"}) * (INPUT_RATE)
        + 128_000 * OUTPUT_RATE
    )
    assert "output <= 128,000 tokens" in str(error)
    with ai_usage_context("job", budget=Budget(usd="0.01", output_cap=1000)) as capped:
        client.chat.completions.create(model="gpt-4o-mini", messages=HELLO)
    assert capped.totals.calls == 1
    with ai_usage_context("job", budget=Budget(calls=5, refuse_unbounded=True)):
        client.chat.completions.create(model="gpt-4o-mini", messages=HELLO)  # calls only
    with (
        ai_usage_context("job", budget=Budget(tokens=10**9, refuse_unbounded=True)),
        pytest.raises(BudgetExceededError, match="sets no output cap"),
    ):
        client.chat.completions.create(model="gpt-4o-mini", messages=HELLO)
    assert len(server.requests) == 2


def test_n_choices_multiply_the_output_cap(server: FakeOpenAI, client: openai.OpenAI) -> None:
    with (
        ai_usage_context("job", budget=Budget(output_tokens=250)),
        pytest.raises(BudgetExceededError) as refused,
    ):
        client.chat.completions.create(model="gpt-4o-mini", messages=HELLO, max_tokens=100, n=3)
    assert refused.value.requested == 300
    assert refused.value.call == "openai chat call to gpt-4o-mini (output cap 100 x 3 choices)"
    assert not server.requests


def test_an_image_part_makes_the_input_unbounded(server: FakeOpenAI, client: openai.OpenAI) -> None:
    messages: list[Any] = [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "What is this?"},
                {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}},
            ],
        }
    ]
    with (
        ai_usage_context("job", budget=Budget(input_tokens=100_000)),
        pytest.raises(BudgetExceededError) as refused,
    ):
        client.chat.completions.create(model="gpt-4o-mini", messages=messages, max_tokens=5)
    assert refused.value.requested == 128_000  # the context window bounds the input
    with (
        ai_usage_context("job", budget=Budget(usd=1, refuse_unbounded=True)),
        pytest.raises(BudgetExceededError, match="its input holds an image part"),
    ):
        client.chat.completions.create(model="gpt-4o-mini", messages=messages, max_tokens=5)
    assert not server.requests


def test_responses_and_embeddings_caps(server: FakeOpenAI, client: openai.OpenAI) -> None:
    with ai_usage_context("job", budget=Budget(output_tokens=10, input_tokens=10_000)) as job:
        client.embeddings.create(model="text-embedding-3-small", input="hello")  # no output
        client.responses.create(model="gpt-4o-mini", input="Hi", max_output_tokens=10)
        with pytest.raises(BudgetExceededError) as refused:
            client.responses.create(model="gpt-4o-mini", input="Hi", previous_response_id="r")
    assert refused.value.limit == "input_tokens"
    assert "content referred to by 'previous_response_id'" not in str(refused.value)
    assert refused.value.requested == 128_000
    assert [r.path for r in server.requests] == ["/v1/embeddings", "/v1/responses"]
    assert job.totals.calls == 2


def test_an_unpriced_model_is_refused_under_a_usd_limit_only(
    server: FakeOpenAI, client: openai.OpenAI
) -> None:
    with (
        ai_usage_context("job", budget=Budget(usd=1)),
        pytest.raises(BudgetExceededError, match="no price is known for openai/my-own-model"),
    ):
        client.chat.completions.create(model="my-own-model", messages=HELLO, max_tokens=5)
    server.reply()  # the fake server answers a model it does not serve only when scripted
    with ai_usage_context("job", budget=Budget(calls=1)) as job:
        client.chat.completions.create(model="my-own-model", messages=HELLO, max_tokens=5)
    assert job.totals.calls == 1
    assert len(server.requests) == 1


def test_a_failed_call_frees_its_reservation(server: FakeOpenAI, client: openai.OpenAI) -> None:
    with ai_usage_context("job", budget=Budget(usd="0.001")) as job:
        server.reply(status=500)
        with pytest.raises(openai.InternalServerError):
            client.chat.completions.create(model="gpt-4o-mini", messages=HELLO, max_tokens=10)
        assert job.budget is not None
        assert job.budget.spent.usd == 0  # an error status is not billed
        assert job.budget.spent.calls == 1
        assert job.budget.reserved.usd == 0


def test_a_call_whose_usage_is_unknown_is_charged_its_reservation(
    server: FakeOpenAI, client: openai.OpenAI
) -> None:
    with ai_usage_context("job", budget=Budget(usd="0.001", output_tokens=1000)) as job:
        server.reply(usage=NO_USAGE)
        client.chat.completions.create(model="gpt-4o-mini", messages=HELLO, max_tokens=10)
        assert job.budget is not None
        sent = server.requests[0].json
        assert job.budget.spent.usd == worst_usd(sent, 10)
        assert job.budget.spent.output_tokens == 10
        assert single(job).usage_status == "missing"


def test_a_hand_made_record_over_the_limit_refuses_the_next_call(
    server: FakeOpenAI, client: openai.OpenAI, caplog: pytest.LogCaptureFixture
) -> None:
    with ai_usage_context("job", budget=Budget(usd="0.01")) as job:
        with caplog.at_level(logging.WARNING, logger="aiusage"):
            record_usage(model="gpt-4o-mini", cost_usd="0.02")
        assert "the budget of context 'job' (usd=0.01) is exceeded (usd)" in caplog.text
        assert job.budget is not None
        assert job.budget.exceeded
        assert job.budget.remaining.usd == 0
        with pytest.raises(BudgetExceededError, match="the budget is already exceeded"):
            client.chat.completions.create(model="gpt-4o-mini", messages=HELLO, max_tokens=1)
    assert not server.requests


def test_a_soft_budget_warns_and_sends(
    server: FakeOpenAI, client: openai.OpenAI, caplog: pytest.LogCaptureFixture
) -> None:
    with (
        caplog.at_level(logging.WARNING, logger="aiusage"),
        ai_usage_context("job", budget=Budget(calls=1, on_exceed="warn")) as job,
    ):
        client.chat.completions.create(model="gpt-4o-mini", messages=HELLO, max_tokens=1)
        client.chat.completions.create(model="gpt-4o-mini", messages=HELLO, max_tokens=1)
    assert len(server.requests) == 2
    assert job.totals.calls == 2
    assert "would refuse (soft budget: sent anyway)" in caplog.text
    assert "one more call does not fit the calls limit 1" in caplog.text


def test_an_on_exceed_function_decides(server: FakeOpenAI, client: openai.OpenAI) -> None:
    seen: list[BudgetExceededError] = []

    class Stop(Exception):
        pass

    def decide(error: BudgetExceededError) -> None:
        seen.append(error)
        if len(seen) > 1:
            raise Stop

    with ai_usage_context("job", budget=Budget(calls=1, on_exceed=decide)) as job:
        for _ in range(2):
            client.chat.completions.create(model="gpt-4o-mini", messages=HELLO, max_tokens=1)
        with pytest.raises(Stop):
            client.chat.completions.create(model="gpt-4o-mini", messages=HELLO, max_tokens=1)
        assert job.budget is not None
        assert job.budget.reserved.calls == 0  # the stopped call took nothing
    assert len(server.requests) == 2
    assert [e.spent for e in seen] == [1, 2]


def test_decorator_and_partial_failure_budgets(server: FakeOpenAI, client: openai.OpenAI) -> None:
    @ai_usage_tracked(budget=Budget(calls=1))
    def label(n: int) -> None:
        for _ in range(n):
            client.chat.completions.create(model="gpt-4o-mini", messages=HELLO, max_tokens=1)

    label(1)
    label(1)  # each call of the function has a budget of its own
    with pytest.raises(BudgetExceededError, match="context 'label'"):
        label(2)
    with partial_failure_context("batch", budget=Budget(calls=2)) as batch:
        for item in range(3):
            with batch.attempt(item):
                client.chat.completions.create(model="gpt-4o-mini", messages=HELLO, max_tokens=1)
    assert (batch.success_count, batch.failure_count) == (2, 1)
    assert batch.errors[0]["type"] == "BudgetExceededError"
    assert len(server.requests) == 5


def test_a_request_the_adapter_cannot_read_is_bounded_by_the_context_window(
    server: FakeOpenAI,
    client: openai.OpenAI,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def unreadable(*args: object) -> None:
        raise ValueError("a body this adapter does not know")

    monkeypatch.setattr("aiusage_core._providers.openai.estimate_request", unreadable)
    with caplog.at_level(logging.ERROR, logger="aiusage"):
        with (
            ai_usage_context("job", budget=Budget(usd="0.05")),
            pytest.raises(BudgetExceededError) as refused,
        ):
            client.chat.completions.create(model="gpt-4o-mini", messages=HELLO, max_tokens=5)
        # Input and output both bounded by gpt-4o-mini's 128,000-token context window.
        assert refused.value.requested == 128_000 * INPUT_RATE + 128_000 * OUTPUT_RATE
        assert refused.value.call == "openai chat call to gpt-4o-mini (no output cap)"
        with (
            ai_usage_context("job", budget=Budget(usd=1, refuse_unbounded=True)),
            pytest.raises(BudgetExceededError, match="a request body aiusage could not read"),
        ):
            client.chat.completions.create(model="gpt-4o-mini", messages=HELLO, max_tokens=5)
        assert not server.requests
        with ai_usage_context("job", budget=Budget(usd="0.10")) as job:
            client.chat.completions.create(model="gpt-4o-mini", messages=HELLO, max_tokens=5)
    assert len(server.requests) == 1
    assert job.totals.calls == 1
    assert "reading an OpenAI chat request for its budget failed" in caplog.text
    assert "a body this adapter does not know" in caplog.text


def test_output_cap_per_model_bounds_uncapped_calls(
    server: FakeOpenAI, client: openai.OpenAI
) -> None:
    hello = {"messages": HELLO, "model": "gpt-4o-mini"}
    caps = {"gpt-4o-mini": 1000, "*": 50}
    assumed = body_bytes(hello) * INPUT_RATE + 1000 * OUTPUT_RATE  # not 128,000 output tokens
    with ai_usage_context("job", budget=Budget(usd=assumed, output_cap=caps)) as job:
        client.chat.completions.create(model="gpt-4o-mini", messages=HELLO)
    assert job.totals.calls == 1
    with (
        ai_usage_context("job", budget=Budget(usd=assumed - Decimal("0.0000001"), output_cap=caps)),
        pytest.raises(BudgetExceededError) as refused,
    ):
        client.chat.completions.create(model="gpt-4o-mini", messages=HELLO)
    assert refused.value.requested == assumed
    assert "output <= 1,000 tokens" in str(refused.value)
    # Each budget bounds the call by its own rule: the batch assumes 60 tokens, the job 1,000.
    with (
        ai_usage_context("job", budget=Budget(output_tokens=2000, output_cap=caps)),
        ai_usage_context("batch", budget=Budget(output_tokens=50, output_cap={"*": 60})),
        pytest.raises(BudgetExceededError) as refused,
    ):
        client.chat.completions.create(model="gpt-4o-mini", messages=HELLO)
    assert refused.value.context == "job/batch"
    assert refused.value.requested == 60
    # "*" stands for every model the mapping does not name.
    with (
        ai_usage_context("job", budget=Budget(output_tokens=40, output_cap=caps)),
        pytest.raises(BudgetExceededError) as refused,
    ):
        client.chat.completions.create(model="gpt-4.1", messages=HELLO)
    assert refused.value.requested == 50
    assert len(server.requests) == 1
