"""The fake server's Anthropic side, exercised through the real ``anthropic`` SDK (with strict
response validation, so every field of our bodies is checked against the SDK's types)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx2
import pytest
from anthropic.types import MessageParam

from pytest_aiusage.fake_openai import (
    ANTHROPIC_ORGANIZATION_ID,
    NO_USAGE,
    FakeAnthropic,
    FakeOpenAI,
)

MODEL = "claude-haiku-4-5"
HELLO: list[MessageParam] = [{"role": "user", "content": "Hello, world!"}]
# count_tokens("Hello, world!") == 4; one message costs 3 more, and the reply priming 3.
HELLO_INPUT_TOKENS = 10
# "Echo: Hello, world!" -> Echo : Hello , world !
HELLO_OUTPUT_TOKENS = 6

CACHED_USAGE: dict[str, Any] = {
    "input_tokens": 12,
    "cache_creation_input_tokens": 300,
    "cache_read_input_tokens": 2000,
    "cache_creation": {"ephemeral_5m_input_tokens": 100, "ephemeral_1h_input_tokens": 200},
    "output_tokens": 40,
    "server_tool_use": {"web_search_requests": 2, "web_fetch_requests": 0},
    "service_tier": "priority",
}


@pytest.fixture
def server() -> Iterator[FakeAnthropic]:
    with FakeAnthropic() as fake:
        yield fake


@pytest.fixture
def client(server: FakeAnthropic) -> Iterator[anthropic.Anthropic]:
    with anthropic.Anthropic(
        api_key="sk-ant-test",
        base_url=server.url,
        max_retries=0,
        _strict_response_validation=True,
    ) as sdk:
        yield sdk


def sse_events(text: str) -> list[tuple[str, dict[str, Any]]]:
    """``(event name, data)`` of every SSE message in ``text``."""
    events = []
    for block in text.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines())
        events.append((lines["event"], json.loads(lines["data"])))
    return events


def test_the_anthropic_url_is_the_servers_root_beside_the_openai_prefix() -> None:
    with FakeOpenAI() as fake:
        assert fake.url == f"{fake.anthropic_url}/v1"
    with FakeAnthropic() as fake:
        assert fake.url == fake.anthropic_url
        assert not fake.url.endswith("/v1")


def test_a_message_has_the_anthropic_shape_and_default_usage(
    client: anthropic.Anthropic,
) -> None:
    raw = client.messages.with_raw_response.create(model=MODEL, max_tokens=64, messages=HELLO)
    message = raw.parse()

    assert message.id.startswith("msg_")
    assert message.type == "message"
    assert message.role == "assistant"
    assert message.model == MODEL
    assert [block.type for block in message.content] == ["text"]
    assert message.content[0].text == "Echo: Hello, world!"  # type: ignore[union-attr]
    assert message.stop_reason == "end_turn"
    assert message.usage.model_dump(exclude_none=True) == {
        "input_tokens": HELLO_INPUT_TOKENS,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
        "cache_creation": {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 0},
        "output_tokens": HELLO_OUTPUT_TOKENS,
        "service_tier": "standard",
    }
    assert raw.headers["request-id"].startswith("req_")
    assert message._request_id == raw.headers["request-id"]
    assert raw.headers["anthropic-organization-id"] == ANTHROPIC_ORGANIZATION_ID
    assert "x-request-id" not in raw.headers


def test_the_system_prompt_counts_as_input(client: anthropic.Anthropic) -> None:
    message = client.messages.create(model=MODEL, max_tokens=64, system="Be brief.", messages=HELLO)
    # "Be brief." is 3 tokens, plus 3 for its message.
    assert message.usage.input_tokens == HELLO_INPUT_TOKENS + 6


def test_replies_are_deterministic_across_servers() -> None:
    bodies = []
    for _ in range(2):
        with FakeAnthropic() as fake, httpx2.Client(base_url=fake.url) as http:
            request = {"model": MODEL, "max_tokens": 8, "messages": HELLO}
            first = http.post("/v1/messages", json=request)
            second = http.post("/v1/messages", json=request)
            bodies.append((first.content, first.headers["request-id"], second.content))
    assert bodies[0] == bodies[1]
    assert bodies[0][0] != bodies[0][2]  # a repeated request gets a new id


def test_scripted_usage_content_model_and_tier_are_sent(
    server: FakeAnthropic, client: anthropic.Anthropic
) -> None:
    server.reply(content="Cached.", model="claude-sonnet-4-5-20250929", usage=CACHED_USAGE)
    message = client.messages.create(model="claude-sonnet-4-5", max_tokens=64, messages=HELLO)
    assert message.content[0].text == "Cached."  # type: ignore[union-attr]
    assert message.model == "claude-sonnet-4-5-20250929"
    assert message.usage.model_dump(exclude_none=True) == CACHED_USAGE

    server.reply(service_tier="priority")
    message = client.messages.create(model=MODEL, max_tokens=64, messages=HELLO)
    assert message.usage.service_tier == "priority"


def test_no_usage_sends_a_message_without_usage(server: FakeAnthropic) -> None:
    server.reply(usage=NO_USAGE)
    with httpx2.Client(base_url=server.url) as http:
        body = http.post(
            "/v1/messages", json={"model": MODEL, "max_tokens": 8, "messages": HELLO}
        ).json()
    assert body["type"] == "message"
    assert "usage" not in body


def test_a_stream_sends_the_events_in_order_with_cumulative_usage(
    server: FakeAnthropic,
) -> None:
    server.reply(content="Two words", usage=CACHED_USAGE)
    request = {"model": MODEL, "max_tokens": 64, "messages": HELLO, "stream": True}
    with httpx2.Client(base_url=server.url) as http:
        response = http.post("/v1/messages", json=request)
    assert response.headers["content-type"].startswith("text/event-stream")
    events = sse_events(response.text)

    assert [name for name, _ in events] == [
        "message_start",
        "content_block_start",
        "ping",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    assert all(name == data["type"] for name, data in events)
    start = events[0][1]["message"]
    assert start["content"] == []
    assert start["stop_reason"] is None
    assert start["usage"] == {
        "input_tokens": 12,
        "cache_creation_input_tokens": 300,
        "cache_read_input_tokens": 2000,
        "cache_creation": {"ephemeral_5m_input_tokens": 100, "ephemeral_1h_input_tokens": 200},
        "output_tokens": 1,
        "service_tier": "priority",
    }
    assert [data["delta"]["text"] for name, data in events if name == "content_block_delta"] == [
        "Two ",
        "words",
    ]
    delta = events[6][1]
    assert delta["delta"] == {"stop_reason": "end_turn", "stop_sequence": None}
    # Cumulative: the input side repeated, the output final.
    assert delta["usage"] == {
        "input_tokens": 12,
        "cache_creation_input_tokens": 300,
        "cache_read_input_tokens": 2000,
        "output_tokens": 40,
        "server_tool_use": {"web_search_requests": 2, "web_fetch_requests": 0},
    }


def test_the_sdk_stream_helper_accumulates_the_final_message(
    server: FakeAnthropic, client: anthropic.Anthropic
) -> None:
    server.reply(content="Hi there, friend.", usage=CACHED_USAGE)
    with client.messages.stream(model=MODEL, max_tokens=64, messages=HELLO) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == "Hi there, friend."
    assert final.usage.model_dump(exclude_none=True) == CACHED_USAGE


def test_the_async_client_streams_and_creates(server: FakeAnthropic) -> None:
    async def main() -> tuple[str, int, int]:
        async with anthropic.AsyncAnthropic(
            api_key="sk-ant-test",
            base_url=server.url,
            max_retries=0,
            _strict_response_validation=True,
        ) as sdk:
            stream = await sdk.messages.create(
                model=MODEL, max_tokens=64, messages=HELLO, stream=True
            )
            kinds = [event.type async for event in stream]
            message = await sdk.messages.create(model=MODEL, max_tokens=64, messages=HELLO)
            return kinds[-1], len(kinds), message.usage.output_tokens

    # 3 text deltas ("Echo: ", "Hello, ", "world!") among 8 events: the SDK drops "ping".
    assert asyncio.run(main()) == ("message_stop", 8, HELLO_OUTPUT_TOKENS)


def test_count_tokens_answers_the_input_tokens(client: anthropic.Anthropic) -> None:
    counted = client.messages.count_tokens(model=MODEL, messages=HELLO)
    assert counted.input_tokens == HELLO_INPUT_TOKENS


def test_beta_messages_and_the_beta_query_are_answered_alike(
    server: FakeAnthropic, client: anthropic.Anthropic
) -> None:
    message = client.beta.messages.create(model=MODEL, max_tokens=64, messages=HELLO)
    assert message.usage.input_tokens == HELLO_INPUT_TOKENS
    with httpx2.Client(base_url=server.url) as http:
        body = http.post(
            "/v1/messages?beta=true", json={"model": MODEL, "max_tokens": 8, "messages": HELLO}
        ).json()
    assert body["usage"]["output_tokens"] == HELLO_OUTPUT_TOKENS
    assert server.requests[-1].query == {"beta": "true"}


def test_message_batches_are_created_retrieved_and_their_results_listed(
    server: FakeAnthropic, client: anthropic.Anthropic
) -> None:
    server.reply(usage={"input_tokens": 5, "output_tokens": 3})
    batch = client.messages.batches.create(
        requests=[
            {"custom_id": "a", "params": {"model": MODEL, "max_tokens": 8, "messages": HELLO}},
            {"custom_id": "b", "params": {"model": MODEL, "max_tokens": 8, "messages": HELLO}},
        ]
    )
    assert batch.id.startswith("msgbatch_")
    assert batch.processing_status == "in_progress"
    assert batch.request_counts.processing == 2
    assert batch.results_url is None

    retrieved = client.messages.batches.retrieve(batch.id)
    assert retrieved.processing_status == "ended"
    assert retrieved.request_counts.succeeded == 2
    assert retrieved.results_url == f"{server.url}/v1/messages/batches/{batch.id}/results"

    results = list(client.messages.batches.results(batch.id))
    assert [result.custom_id for result in results] == ["a", "b"]
    for result in results:
        assert result.result.type == "succeeded"
        usage = result.result.message.usage  # type: ignore[union-attr]
        assert (usage.input_tokens, usage.output_tokens) == (5, 3)
    ids = {result.result.message.id for result in results}  # type: ignore[union-attr]
    assert len(ids) == 2


def test_unscripted_batch_results_are_served_from_the_batch_tier(
    client: anthropic.Anthropic,
) -> None:
    batch = client.beta.messages.batches.create(
        requests=[
            {"custom_id": "only", "params": {"model": MODEL, "max_tokens": 8, "messages": HELLO}}
        ]
    )
    (result,) = client.beta.messages.batches.results(batch.id)
    assert result.result.type == "succeeded"
    assert result.result.message.usage.service_tier == "batch"  # type: ignore[union-attr]


def test_an_unknown_batch_is_not_found(client: anthropic.Anthropic) -> None:
    with pytest.raises(anthropic.NotFoundError) as caught:
        client.messages.batches.retrieve("msgbatch_nope")
    assert caught.value.body["error"]["type"] == "not_found_error"  # type: ignore[index]


@pytest.mark.parametrize(
    ("status", "error_class", "error_type"),
    [
        (400, anthropic.BadRequestError, "invalid_request_error"),
        (401, anthropic.AuthenticationError, "authentication_error"),
        (429, anthropic.RateLimitError, "rate_limit_error"),
        (500, anthropic.InternalServerError, "api_error"),
        (529, anthropic.OverloadedError, "overloaded_error"),
    ],
)
def test_scripted_errors_have_anthropics_shape_and_request_id(
    server: FakeAnthropic,
    client: anthropic.Anthropic,
    status: int,
    error_class: type[anthropic.APIStatusError],
    error_type: str,
) -> None:
    server.reply(status=status)
    with pytest.raises(error_class) as caught:
        client.messages.create(model=MODEL, max_tokens=64, messages=HELLO)
    error = caught.value
    assert error.status_code == status
    assert error.request_id is not None
    assert error.request_id.startswith("req_")
    assert error.body == {
        "type": "error",
        "error": {"type": error_type, "message": error.body["error"]["message"]},  # type: ignore[index]
        "request_id": error.request_id,
    }


def test_a_scripted_error_overrides_type_and_message(
    server: FakeAnthropic, client: anthropic.Anthropic
) -> None:
    server.reply(status=400, error={"message": "prompt is too long"})
    with pytest.raises(anthropic.BadRequestError) as caught:
        client.messages.count_tokens(model=MODEL, messages=HELLO)
    assert caught.value.body["error"] == {  # type: ignore[index]
        "type": "invalid_request_error",
        "message": "prompt is too long",
    }


def test_requests_the_api_would_refuse_get_400_or_404(server: FakeAnthropic) -> None:
    with httpx2.Client(base_url=server.url) as http:
        no_max = http.post("/v1/messages", json={"model": MODEL, "messages": HELLO})
        no_model = http.post("/v1/messages", json={"max_tokens": 8, "messages": HELLO})
        not_json = http.post("/v1/messages", content=b"{")
        unknown = http.get("/v1/messages/elsewhere")
    assert [r.status_code for r in (no_max, no_model, not_json, unknown)] == [400, 400, 400, 404]
    assert no_max.json()["error"] == {
        "type": "invalid_request_error",
        "message": "max_tokens: Field required",
    }
    assert unknown.json()["error"]["type"] == "not_found_error"
    assert all("request-id" in r.headers for r in (no_max, no_model, not_json, unknown))


def test_reset_forgets_batches(server: FakeAnthropic, client: anthropic.Anthropic) -> None:
    batch = client.messages.batches.create(
        requests=[
            {"custom_id": "a", "params": {"model": MODEL, "max_tokens": 8, "messages": HELLO}}
        ]
    )
    server.reset()
    with pytest.raises(anthropic.NotFoundError):
        client.messages.batches.retrieve(batch.id)


def test_vertex_and_bedrock_paths_answer_the_model_they_name(server: FakeAnthropic) -> None:
    body = {"anthropic_version": "vertex-2023-10-16", "max_tokens": 8, "messages": HELLO}
    vertex = "/projects/p/locations/us-east5/publishers/anthropic/models/claude-haiku-4-5@20251001"
    with httpx2.Client(base_url=server.url) as http:
        plain = http.post(f"{vertex}:rawPredict", json=body).json()
        streamed = http.post(f"{vertex}:streamRawPredict", json=body)
        bedrock = http.post("/model/anthropic.claude-haiku-4-5-v1:0/invoke", json=body).json()
    assert plain["model"] == "claude-haiku-4-5@20251001"
    assert sse_events(streamed.text)[0][1]["message"]["model"] == "claude-haiku-4-5@20251001"
    assert bedrock["model"] == "anthropic.claude-haiku-4-5-v1:0"
    assert bedrock["usage"]["input_tokens"] == HELLO_INPUT_TOKENS
