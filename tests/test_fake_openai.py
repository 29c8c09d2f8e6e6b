"""The fake OpenAI server, exercised through the real ``openai`` SDK."""

from __future__ import annotations

import asyncio
import base64
import gzip
import json
import math
import struct
from collections.abc import Iterator
from typing import Any

import httpx2
import openai
import pytest
from openai.types.chat import ChatCompletionMessageParam

from pytest_aiusage.fake_openai import (
    CREATED_AT,
    DEFAULT_EMBEDDING_DIMENSIONS,
    NO_USAGE,
    FakeOpenAI,
    count_tokens,
)

HELLO: list[ChatCompletionMessageParam] = [{"role": "user", "content": "Hello, world!"}]
# count_tokens("Hello, world!") == 4; one message costs 3 more, and the reply priming 3.
HELLO_PROMPT_TOKENS = 10
# "Echo: Hello, world!" -> Echo : Hello , world !
HELLO_COMPLETION_TOKENS = 6


@pytest.fixture
def server() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as fake:
        yield fake


@pytest.fixture
def client(server: FakeOpenAI) -> Iterator[openai.OpenAI]:
    # Strict validation makes the SDK check every field of our bodies against its models.
    with openai.OpenAI(
        api_key="sk-test", base_url=server.url, max_retries=0, _strict_response_validation=True
    ) as sdk:
        yield sdk


@pytest.fixture
def lenient_client(server: FakeOpenAI) -> Iterator[openai.OpenAI]:
    # Base64 embeddings (the SDK's default) are strings until the SDK decodes them after
    # validation, so strict validation rejects them: embeddings use a lenient client.
    with openai.OpenAI(api_key="sk-test", base_url=server.url, max_retries=0) as sdk:
        yield sdk


@pytest.fixture
def http(server: FakeOpenAI) -> Iterator[httpx2.Client]:
    with httpx2.Client(base_url=server.url, headers={"authorization": "Bearer sk-test"}) as raw:
        yield raw


def sse_payloads(text: str) -> list[str]:
    return [line.removeprefix("data: ") for line in text.splitlines() if line.startswith("data: ")]


# -- count_tokens ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [("", 0), ("   ", 0), ("Hello", 1), ("Hello, world!", 4), ("don't stop", 4), ("a  b\nc", 3)],
)
def test_count_tokens_counts_words_and_punctuation(text: str, expected: int) -> None:
    assert count_tokens(text) == expected


# -- lifecycle -------------------------------------------------------------------------------


def test_url_points_at_the_v1_prefix_on_a_free_port(server: FakeOpenAI) -> None:
    host, _, port = server.url.removeprefix("http://").removesuffix("/v1").partition(":")
    assert host == "127.0.0.1"
    assert int(port) > 0
    assert server.url.endswith("/v1")


def test_starting_twice_raises_and_stop_is_idempotent() -> None:
    fake = FakeOpenAI()
    with pytest.raises(RuntimeError, match="not running"):
        _ = fake.url
    fake.start()
    try:
        with pytest.raises(RuntimeError, match="already running"):
            fake.start()
    finally:
        fake.stop()
    fake.stop()
    with pytest.raises(RuntimeError, match="not running"):
        _ = fake.url


def test_a_stopped_server_can_be_started_again() -> None:
    fake = FakeOpenAI()
    for _ in range(2):
        with fake, httpx2.Client() as raw:
            response = raw.post(
                f"{fake.url}/embeddings", json={"model": "text-embedding-3-small", "input": "x"}
            )
            assert response.status_code == 200
    assert len(fake.requests) == 2


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"status": 199}, "status must be between 200 and 599"),
        ({"status": 600}, "status must be between 200 and 599"),
        ({"error": {"message": "x"}}, "error needs an error status"),
        ({"delay": -1.0}, "delay must be"),
        ({"delay": math.inf}, "delay must be"),
    ],
)
def test_reply_rejects_bad_arguments_at_once(
    server: FakeOpenAI, kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        server.reply(**kwargs)
    assert server.pending_replies == 0


# -- chat completions ------------------------------------------------------------------------


def test_chat_completion_has_the_openai_shape(client: openai.OpenAI) -> None:
    raw = client.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=HELLO)
    body = raw.http_response.json()
    completion = raw.parse()

    assert completion.id.startswith("chatcmpl-")
    assert completion.object == "chat.completion"
    assert completion.created == CREATED_AT
    assert completion.model == "gpt-4o-mini-2024-07-18"
    assert completion.service_tier == "default"
    assert completion.system_fingerprint is not None
    assert completion.system_fingerprint.startswith("fp_")
    assert body["choices"] == [
        {
            "index": 0,
            "message": {
                "role": "assistant",
                "content": "Echo: Hello, world!",
                "refusal": None,
                "annotations": [],
            },
            "logprobs": None,
            "finish_reason": "stop",
        }
    ]
    assert body["usage"] == {
        "prompt_tokens": HELLO_PROMPT_TOKENS,
        "completion_tokens": HELLO_COMPLETION_TOKENS,
        "total_tokens": HELLO_PROMPT_TOKENS + HELLO_COMPLETION_TOKENS,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }
    assert raw.headers["x-request-id"].startswith("req_")
    assert int(raw.headers["openai-processing-ms"]) > 0
    assert completion._request_id == raw.headers["x-request-id"]


def test_chat_prompt_tokens_count_every_message_and_content_part(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(
        model="gpt-4o",
        messages=[
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": [{"type": "text", "text": "Two words"}]},
        ],
    )
    assert completion.usage is not None
    assert completion.usage.prompt_tokens == (3 + 3) + (3 + 2) + 3
    assert completion.choices[0].message.content == "Echo: Two words"


def test_chat_with_n_returns_n_choices_and_bills_each(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(model="gpt-4o", messages=HELLO, n=3)
    assert [choice.index for choice in completion.choices] == [0, 1, 2]
    assert completion.usage is not None
    assert completion.usage.completion_tokens == 3 * HELLO_COMPLETION_TOKENS


def test_an_unknown_model_is_a_404_in_the_real_error_shape(
    client: openai.OpenAI, http: httpx2.Client
) -> None:
    with pytest.raises(openai.NotFoundError) as raised:
        client.chat.completions.create(model="gpt-4o-mnii", messages=HELLO)
    assert raised.value.status_code == 404
    assert raised.value.code == "model_not_found"
    response = http.post("/embeddings", json={"model": "my-embedder", "input": "x"})
    assert response.status_code == 404
    assert response.json() == {
        "error": {
            "message": "The model `my-embedder` does not exist or you do not have access to it.",
            "type": "invalid_request_error",
            "param": None,
            "code": "model_not_found",
        }
    }


def test_models_the_server_is_given_fine_tunes_and_scripted_replies_are_answered(
    server: FakeOpenAI, client: openai.OpenAI
) -> None:
    with (
        FakeOpenAI(models=["my-finetune"]) as own,
        openai.OpenAI(api_key="sk-test", base_url=own.url, max_retries=0) as own_client,
    ):
        completion = own_client.chat.completions.create(model="my-finetune", messages=HELLO)
    assert completion.model == "my-finetune"
    tuned = client.chat.completions.create(model="ft:gpt-4o-mini:acme::x1", messages=HELLO)
    assert tuned.model == "ft:gpt-4o-mini:acme::x1"
    server.reply(content="Scripted.")
    scripted = client.chat.completions.create(model="house-model", messages=HELLO)
    assert (scripted.model, scripted.choices[0].message.content) == ("house-model", "Scripted.")


@pytest.mark.parametrize(
    ("requested", "expected"),
    [(None, "default"), ("auto", "default"), ("flex", "flex"), ("priority", "priority")],
)
def test_chat_service_tier_follows_the_request_except_auto(
    client: openai.OpenAI, requested: Any, expected: str
) -> None:
    extra = {} if requested is None else {"service_tier": requested}
    completion = client.chat.completions.create(model="gpt-4o", messages=HELLO, **extra)
    assert completion.service_tier == expected


def test_scripted_content_model_and_service_tier(server: FakeOpenAI, client: openai.OpenAI) -> None:
    server.reply(content="Scripted answer.", model="gpt-4o-2024-05-13", service_tier="flex")
    completion = client.chat.completions.create(model="gpt-4o", messages=HELLO)
    assert completion.choices[0].message.content == "Scripted answer."
    assert completion.model == "gpt-4o-2024-05-13"
    assert completion.service_tier == "flex"
    assert completion.usage is not None
    assert completion.usage.completion_tokens == count_tokens("Scripted answer.") == 3


def test_scripted_replies_are_consumed_in_order(server: FakeOpenAI, client: openai.OpenAI) -> None:
    server.reply(content="first")
    server.reply(content="second")
    assert server.pending_replies == 2
    contents = [
        client.chat.completions.create(model="gpt-4o", messages=HELLO).choices[0].message.content
        for _ in range(3)
    ]
    assert contents == ["first", "second", "Echo: Hello, world!"]
    assert server.pending_replies == 0


def test_chat_stream_without_include_usage_has_no_usage_chunk(
    client: openai.OpenAI,
) -> None:
    with client.chat.completions.create(model="gpt-4o-mini", messages=HELLO, stream=True) as stream:
        chunks = list(stream)

    assert all(chunk.object == "chat.completion.chunk" for chunk in chunks)
    assert all(chunk.model == "gpt-4o-mini-2024-07-18" for chunk in chunks)
    assert all(len(chunk.choices) == 1 for chunk in chunks)
    assert all(chunk.usage is None for chunk in chunks)
    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[-1].choices[0].finish_reason == "stop"
    pieces = [chunk.choices[0].delta.content or "" for chunk in chunks]
    assert len([piece for piece in pieces if piece]) == 3
    assert "".join(pieces) == "Echo: Hello, world!"


def test_chat_stream_with_include_usage_ends_with_a_usage_chunk(client: openai.OpenAI) -> None:
    with client.chat.completions.create(
        model="gpt-4o-mini",
        messages=HELLO,
        stream=True,
        stream_options={"include_usage": True},
    ) as stream:
        chunks = list(stream)

    *content_chunks, usage_chunk = chunks
    assert all(chunk.usage is None for chunk in content_chunks)
    assert usage_chunk.choices == []
    assert usage_chunk.usage is not None
    assert usage_chunk.usage.prompt_tokens == HELLO_PROMPT_TOKENS
    assert usage_chunk.usage.completion_tokens == HELLO_COMPLETION_TOKENS
    assert usage_chunk.usage.total_tokens == HELLO_PROMPT_TOKENS + HELLO_COMPLETION_TOKENS
    assert len({chunk.id for chunk in chunks}) == 1


def test_chat_stream_wire_format(http: httpx2.Client) -> None:
    request = {
        "model": "gpt-4o-mini",
        "messages": HELLO,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    response = http.post("/chat/completions", json=request)

    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.text.endswith("data: [DONE]\n\n")
    payloads = sse_payloads(response.text)
    assert payloads[-1] == "[DONE]"
    chunks = [json.loads(payload) for payload in payloads[:-1]]
    assert [chunk["usage"] for chunk in chunks[:-1]] == [None] * (len(chunks) - 1)
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": "", "refusal": None}
    assert chunks[-2]["choices"][0] == {
        "index": 0,
        "delta": {},
        "logprobs": None,
        "finish_reason": "stop",
    }
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"]["total_tokens"] == HELLO_PROMPT_TOKENS + HELLO_COMPLETION_TOKENS


def test_chat_stream_without_include_usage_omits_the_usage_key(http: httpx2.Client) -> None:
    request = {"model": "gpt-4o-mini", "messages": HELLO, "stream": True}
    chunks = [
        json.loads(p) for p in sse_payloads(http.post("/chat/completions", json=request).text)[:-1]
    ]
    assert chunks
    assert all("usage" not in chunk for chunk in chunks)


@pytest.mark.parametrize(
    ("stream_options", "forced", "has_usage_chunk"),
    [(None, True, True), ({"include_usage": True}, False, False)],
)
def test_scripted_include_usage_in_stream_overrides_the_request(
    server: FakeOpenAI,
    client: openai.OpenAI,
    stream_options: Any,
    forced: bool,
    has_usage_chunk: bool,
) -> None:
    server.reply(include_usage_in_stream=forced)
    extra = {} if stream_options is None else {"stream_options": stream_options}
    with client.chat.completions.create(
        model="gpt-4o", messages=HELLO, stream=True, **extra
    ) as stream:
        chunks = list(stream)
    assert (chunks[-1].choices == [] and chunks[-1].usage is not None) is has_usage_chunk


def test_breaking_out_of_a_stream_early_leaves_the_server_working(
    server: FakeOpenAI, client: openai.OpenAI
) -> None:
    server.reply(content=" ".join(f"word{i}" for i in range(500)))
    with client.chat.completions.create(model="gpt-4o", messages=HELLO, stream=True) as stream:
        first = next(iter(stream))
    assert first.choices[0].delta.role == "assistant"

    completion = client.chat.completions.create(model="gpt-4o", messages=HELLO)
    assert completion.choices[0].message.content == "Echo: Hello, world!"


# -- embeddings ------------------------------------------------------------------------------


def test_embeddings_default_base64_is_decoded_by_the_sdk(lenient_client: openai.OpenAI) -> None:
    encoded = lenient_client.embeddings.create(model="text-embedding-3-small", input="hello")
    as_floats = lenient_client.embeddings.create(
        model="text-embedding-3-small", input="hello", encoding_format="float"
    )

    vector = encoded.data[0].embedding
    assert len(vector) == DEFAULT_EMBEDDING_DIMENSIONS
    assert vector == as_floats.data[0].embedding
    assert math.isclose(math.fsum(value * value for value in vector), 1.0, rel_tol=1e-6)
    assert encoded.model == "text-embedding-3-small"
    assert encoded.object == "list"
    assert encoded.usage.prompt_tokens == encoded.usage.total_tokens == 1


def test_embeddings_wire_format_follows_encoding_format(
    server: FakeOpenAI, lenient_client: openai.OpenAI
) -> None:
    encoded = lenient_client.embeddings.create(
        model="text-embedding-3-small", input="hello", encoding_format="base64"
    )
    floats = lenient_client.embeddings.create(
        model="text-embedding-3-small", input="hello", encoding_format="float"
    )

    payload: Any = encoded.data[0].embedding  # left as the base64 string when asked for
    assert isinstance(payload, str)
    decoded = struct.unpack("<8f", base64.b64decode(payload))
    assert list(decoded) == floats.data[0].embedding
    assert [request.json["encoding_format"] for request in server.requests] == ["base64", "float"]


def test_embeddings_of_a_list_are_indexed_and_distinct(lenient_client: openai.OpenAI) -> None:
    result = lenient_client.embeddings.create(
        model="text-embedding-3-small", input=["one", "two words", "one"], dimensions=4
    )
    assert [item.index for item in result.data] == [0, 1, 2]
    assert all(len(item.embedding) == 4 for item in result.data)
    assert result.data[0].embedding == result.data[2].embedding
    assert result.data[0].embedding != result.data[1].embedding
    assert result.usage.prompt_tokens == 1 + 2 + 1


@pytest.mark.parametrize(
    ("tokens", "count", "prompt_tokens"),
    [([1, 2, 3], 1, 3), ([[1, 2], [3, 4, 5]], 2, 5)],
)
def test_embeddings_accept_token_arrays(
    lenient_client: openai.OpenAI, tokens: Any, count: int, prompt_tokens: int
) -> None:
    result = lenient_client.embeddings.create(model="text-embedding-3-large", input=tokens)
    assert len(result.data) == count
    assert result.usage.prompt_tokens == prompt_tokens


def test_embeddings_depend_on_the_model(lenient_client: openai.OpenAI) -> None:
    small = lenient_client.embeddings.create(model="text-embedding-3-small", input="x")
    large = lenient_client.embeddings.create(model="text-embedding-3-large", input="x")
    assert small.data[0].embedding != large.data[0].embedding


@pytest.mark.parametrize(
    "request_body",
    [
        {"model": "text-embedding-3-small", "input": {"not": "valid"}},
        {"model": "text-embedding-3-small", "input": []},
        {"model": "text-embedding-3-small", "input": "x", "encoding_format": "int8"},
        {"model": "text-embedding-3-small", "input": "x", "dimensions": 0},
    ],
)
def test_invalid_embedding_requests_get_a_400(
    http: httpx2.Client, request_body: dict[str, Any]
) -> None:
    response = http.post("/embeddings", json=request_body)
    assert response.status_code == 400
    assert response.json()["error"]["type"] == "invalid_request_error"


# -- responses -------------------------------------------------------------------------------


def test_response_has_output_text_and_usage(client: openai.OpenAI) -> None:
    response = client.responses.create(model="gpt-4o", input="Tell me a joke")

    assert response.id.startswith("resp_")
    assert response.object == "response"
    assert response.status == "completed"
    assert response.created_at == CREATED_AT
    assert response.model == "gpt-4o-2024-08-06"
    assert response.service_tier == "default"
    assert response.output_text == "Echo: Tell me a joke"
    assert response.usage is not None
    assert response.usage.input_tokens == 4 + 3 + 3
    assert response.usage.output_tokens == count_tokens("Echo: Tell me a joke") == 6
    assert response.usage.total_tokens == 16
    assert response.usage.input_tokens_details.cached_tokens == 0
    assert response.usage.output_tokens_details.reasoning_tokens == 0


def test_response_input_items_and_instructions_count_as_messages(client: openai.OpenAI) -> None:
    response = client.responses.create(
        model="gpt-4o-mini",
        instructions="Be nice.",
        input=[
            {"role": "user", "content": "First question"},
            {"role": "assistant", "content": "First answer"},
            {"role": "user", "content": [{"type": "input_text", "text": "Second question"}]},
        ],
    )
    assert response.output_text == "Echo: Second question"
    assert response.instructions == "Be nice."
    assert response.usage is not None
    assert response.usage.input_tokens == (3 + 3) + 3 * (3 + 2) + 3


def test_response_stream_emits_events_in_order(client: openai.OpenAI) -> None:
    with client.responses.create(model="gpt-4o", input="Tell me a joke", stream=True) as stream:
        events = list(stream)

    types = [event.type for event in events]
    assert types == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        *["response.output_text.delta"] * 5,
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert [event.sequence_number for event in events] == list(range(len(events)))
    deltas = [event.delta for event in events if event.type == "response.output_text.delta"]
    assert "".join(deltas) == "Echo: Tell me a joke"
    final = events[-1]
    assert final.type == "response.completed"
    assert final.response.output_text == "Echo: Tell me a joke"
    assert final.response.usage is not None
    assert final.response.usage.input_tokens == 10
    assert final.response.usage.output_tokens == 6
    first = events[0]
    assert first.type == "response.created"
    assert first.response.status == "in_progress"
    assert first.response.usage is None


def test_response_stream_wire_format_names_each_event(http: httpx2.Client) -> None:
    text = http.post("/responses", json={"model": "gpt-4o", "input": "hi", "stream": True}).text
    blocks = text.strip().split("\n\n")
    for block in blocks:
        event_line, data_line = block.split("\n")
        assert event_line.removeprefix("event: ") == json.loads(data_line[6:])["type"]
    assert "[DONE]" not in text


def test_scripted_usage_without_it_in_stream_drops_usage_from_completed(
    server: FakeOpenAI, client: openai.OpenAI
) -> None:
    server.reply(include_usage_in_stream=False)
    with client.responses.create(model="gpt-4o", input="hi", stream=True) as stream:
        events = list(stream)
    final = events[-1]
    assert final.type == "response.completed"
    assert final.response.usage is None


# -- scripted usage --------------------------------------------------------------------------


def test_scripted_chat_usage_is_sent_verbatim_with_total_filled(
    server: FakeOpenAI, client: openai.OpenAI
) -> None:
    usage = {
        "prompt_tokens": 10,
        "completion_tokens": 5,
        "prompt_tokens_details": {"cached_tokens": 4},
    }
    server.reply(usage=usage)
    raw = client.chat.completions.with_raw_response.create(model="gpt-4o", messages=HELLO)

    assert raw.http_response.json()["usage"] == {**usage, "total_tokens": 15}
    parsed = raw.parse().usage
    assert parsed is not None
    assert parsed.prompt_tokens_details is not None
    assert parsed.prompt_tokens_details.cached_tokens == 4
    assert parsed.completion_tokens_details is None


def test_scripted_usage_keeps_an_explicit_total(server: FakeOpenAI, http: httpx2.Client) -> None:
    server.reply(usage={"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 99})
    body = http.post("/chat/completions", json={"model": "gpt-4o", "messages": HELLO}).json()
    assert body["usage"] == {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 99}


def test_malformed_scripted_usage_is_not_repaired(server: FakeOpenAI, http: httpx2.Client) -> None:
    server.reply(usage={"prompt_tokens": "ten", "completion_tokens": -1})
    body = http.post("/chat/completions", json={"model": "gpt-4o", "messages": HELLO}).json()
    assert body["usage"] == {"prompt_tokens": "ten", "completion_tokens": -1}


def test_scripted_responses_usage_with_reasoning_tokens(
    server: FakeOpenAI, client: openai.OpenAI
) -> None:
    server.reply(
        content="42",
        usage={
            "input_tokens": 100,
            "input_tokens_details": {"cached_tokens": 60, "cache_write_tokens": 0},
            "output_tokens": 50,
            "output_tokens_details": {"reasoning_tokens": 40},
        },
    )
    response = client.responses.create(model="o4-mini", input="What is the answer?")
    assert response.output_text == "42"
    assert response.model == "o4-mini-2025-04-16"
    assert response.usage is not None
    assert response.usage.total_tokens == 150
    assert response.usage.input_tokens_details.cached_tokens == 60
    assert response.usage.output_tokens_details.reasoning_tokens == 40


def test_scripted_usage_applies_to_the_stream_usage_chunk(
    server: FakeOpenAI, client: openai.OpenAI
) -> None:
    server.reply(usage={"prompt_tokens": 7, "completion_tokens": 3})
    with client.chat.completions.create(
        model="gpt-4o", messages=HELLO, stream=True, stream_options={"include_usage": True}
    ) as stream:
        usage = list(stream)[-1].usage
    assert usage is not None
    assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (7, 3, 10)


def test_no_usage_sends_no_usage_key(server: FakeOpenAI, http: httpx2.Client) -> None:
    for _ in range(3):
        server.reply(usage=NO_USAGE)
    chat = http.post("/chat/completions", json={"model": "gpt-4o", "messages": HELLO}).json()
    embeddings = http.post("/embeddings", json={"model": "m", "input": "x"}).json()
    response = http.post("/responses", json={"model": "gpt-4o", "input": "x"}).json()
    assert "usage" not in chat
    assert "usage" not in embeddings
    assert "usage" not in response
    assert chat["choices"][0]["message"]["content"] == "Echo: Hello, world!"


def test_no_usage_through_the_sdk(server: FakeOpenAI, client: openai.OpenAI) -> None:
    server.reply(usage=NO_USAGE)
    server.reply(usage=NO_USAGE)
    server.reply(usage=NO_USAGE)
    completion = client.chat.completions.create(model="gpt-4o", messages=HELLO)
    with client.chat.completions.create(
        model="gpt-4o", messages=HELLO, stream=True, stream_options={"include_usage": True}
    ) as stream:
        chunks = list(stream)
    response = client.responses.create(model="gpt-4o", input="x")

    assert completion.usage is None
    assert all(chunk.usage is None and chunk.choices for chunk in chunks)
    assert response.usage is None


# -- errors ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "exception", "error_type", "code"),
    [
        (400, openai.BadRequestError, "invalid_request_error", None),
        (401, openai.AuthenticationError, "invalid_request_error", "invalid_api_key"),
        (403, openai.PermissionDeniedError, "invalid_request_error", None),
        (404, openai.NotFoundError, "invalid_request_error", "model_not_found"),
        (409, openai.ConflictError, "invalid_request_error", None),
        (422, openai.UnprocessableEntityError, "invalid_request_error", None),
        (429, openai.RateLimitError, "requests", "rate_limit_exceeded"),
        (500, openai.InternalServerError, "server_error", None),
        (503, openai.InternalServerError, "server_error", None),
    ],
)
def test_scripted_status_raises_the_matching_sdk_error(
    server: FakeOpenAI,
    client: openai.OpenAI,
    status: int,
    exception: type[openai.APIStatusError],
    error_type: str,
    code: str | None,
) -> None:
    server.reply(status=status)
    with pytest.raises(exception) as excinfo:
        client.chat.completions.create(model="gpt-4o", messages=HELLO)
    error = excinfo.value
    assert error.status_code == status
    assert error.type == error_type
    assert error.code == code
    assert error.request_id is not None
    assert error.request_id.startswith("req_")


def test_404_message_names_the_requested_model(server: FakeOpenAI, client: openai.OpenAI) -> None:
    server.reply(status=404)
    with pytest.raises(openai.NotFoundError, match="The model `gpt-9` does not exist"):
        client.responses.create(model="gpt-9", input="x")


def test_scripted_error_fields_override_the_defaults(
    server: FakeOpenAI, client: openai.OpenAI
) -> None:
    server.reply(
        status=429,
        error={"message": "You exceeded your current quota.", "code": "insufficient_quota"},
        headers={"retry-after": "7"},
    )
    with pytest.raises(openai.RateLimitError) as excinfo:
        client.embeddings.create(model="text-embedding-3-small", input="x")
    assert excinfo.value.body == {
        "message": "You exceeded your current quota.",
        "type": "requests",
        "param": None,
        "code": "insufficient_quota",
    }
    assert excinfo.value.response.headers["retry-after"] == "7"


def test_scripted_error_on_a_stream_request_is_plain_json(
    server: FakeOpenAI, client: openai.OpenAI
) -> None:
    server.reply(status=500)
    with pytest.raises(openai.InternalServerError):
        client.chat.completions.create(model="gpt-4o", messages=HELLO, stream=True)


def test_drop_connection_raises_api_connection_error(
    server: FakeOpenAI, client: openai.OpenAI
) -> None:
    server.reply(drop_connection=True)
    with pytest.raises(openai.APIConnectionError) as excinfo:
        client.chat.completions.create(model="gpt-4o", messages=HELLO)
    assert not isinstance(excinfo.value, openai.APITimeoutError)
    assert len(server.requests) == 1

    completion = client.chat.completions.create(model="gpt-4o", messages=HELLO)
    assert completion.choices[0].message.content == "Echo: Hello, world!"


def test_delay_lets_the_client_time_out(server: FakeOpenAI, client: openai.OpenAI) -> None:
    server.reply(delay=30.0)
    with pytest.raises(openai.APITimeoutError):
        client.with_options(timeout=0.2).chat.completions.create(model="gpt-4o", messages=HELLO)


def test_unknown_paths_get_an_openai_404(http: httpx2.Client) -> None:
    response = http.post("/nope", json={"model": "gpt-4o"})
    assert response.status_code == 404
    assert response.json() == {
        "error": {
            "message": "Invalid URL (POST /v1/nope)",
            "type": "invalid_request_error",
            "param": None,
            "code": None,
        }
    }
    assert http.get("/chat/completions").status_code == 404


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"not json", "could not parse the JSON body"),
        (b'{"messages": []}', "must provide a model"),
        (b'{"model": "gpt-4o"}', "Missing required parameter: 'messages'"),
    ],
)
def test_invalid_chat_requests_get_a_400(http: httpx2.Client, content: bytes, message: str) -> None:
    response = http.post(
        "/chat/completions", content=content, headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert message in response.json()["error"]["message"]


# -- recording and determinism ---------------------------------------------------------------


def test_requests_are_recorded_with_headers_query_and_body(
    server: FakeOpenAI, client: openai.OpenAI
) -> None:
    client.chat.completions.create(
        model="gpt-4o", messages=HELLO, extra_query={"trace": "yes"}, user="u-1"
    )
    client.responses.create(model="gpt-4o", input="x")

    first, second = server.requests
    assert first.method == "POST"
    assert first.path == "/v1/chat/completions"
    assert first.query == {"trace": "yes"}
    assert first.headers["authorization"] == "Bearer sk-test"
    assert first.headers["content-type"] == "application/json"
    assert first.json == {"model": "gpt-4o", "messages": HELLO, "user": "u-1"}
    assert json.loads(first.body) == first.json
    assert second.path == "/v1/responses"
    assert second.json == {"model": "gpt-4o", "input": "x"}


def test_reset_forgets_requests_and_scripts_and_restarts_ids(
    server: FakeOpenAI, client: openai.OpenAI
) -> None:
    before = client.chat.completions.create(model="gpt-4o", messages=HELLO)
    server.reply(status=500)
    server.reset()

    after = client.chat.completions.create(model="gpt-4o", messages=HELLO)
    assert after.id == before.id
    assert server.pending_replies == 0
    assert len(server.requests) == 1


def _conversation(url: str) -> list[tuple[bytes, str]]:
    """Send a fixed sequence of requests; return each raw body and request id."""
    requests: list[tuple[str, dict[str, Any]]] = [
        ("/chat/completions", {"model": "gpt-4o-mini", "messages": HELLO}),
        ("/chat/completions", {"model": "gpt-4o-mini", "messages": HELLO}),
        ("/chat/completions", {"model": "gpt-4o", "messages": HELLO, "stream": True}),
        ("/embeddings", {"model": "text-embedding-3-small", "input": ["a", "b"]}),
        ("/embeddings", {"model": "m", "input": "a", "encoding_format": "base64"}),
        ("/responses", {"model": "gpt-4o", "input": "hi"}),
        ("/responses", {"model": "gpt-4o", "input": "hi", "stream": True}),
    ]
    with httpx2.Client(base_url=url) as http:
        results = []
        for path, body in requests:
            response = http.post(path, json=body)
            results.append((response.content, response.headers["x-request-id"]))
        return results


def test_identical_requests_get_identical_bytes_across_server_instances() -> None:
    with FakeOpenAI() as one, FakeOpenAI() as two:
        assert one.url != two.url
        first, second = _conversation(one.url), _conversation(two.url)
    assert first == second
    # Repeating a request within one server still gives it fresh ids.
    assert first[0][1] != first[1][1]
    assert json.loads(first[0][0])["id"] != json.loads(first[1][0])["id"]
    assert json.loads(first[0][0])["choices"] == json.loads(first[1][0])["choices"]


# -- gzip ------------------------------------------------------------------------------------


def test_gzip_option_compresses_json_bodies_deterministically() -> None:
    request = {"model": "gpt-4o", "messages": HELLO}
    bodies = []
    with FakeOpenAI(gzip=True) as fake, httpx2.Client(base_url=fake.url) as http:
        for _ in range(2):
            fake.reset()
            with http.stream("POST", "/chat/completions", json=request) as response:
                assert response.headers["content-encoding"] == "gzip"
                bodies.append(b"".join(response.iter_raw()))
        with openai.OpenAI(api_key="sk-test", base_url=fake.url, max_retries=0) as sdk:
            completion = sdk.chat.completions.create(model="gpt-4o", messages=HELLO)
        with http.stream("POST", "/chat/completions", json={**request, "stream": True}) as stream:
            assert "content-encoding" not in stream.headers
    assert bodies[0] == bodies[1]
    assert json.loads(gzip.decompress(bodies[0]))["model"] == "gpt-4o-2024-08-06"
    assert completion.choices[0].message.content == "Echo: Hello, world!"


def test_gzip_is_off_by_default(http: httpx2.Client) -> None:
    with http.stream(
        "POST", "/chat/completions", json={"model": "gpt-4o", "messages": HELLO}
    ) as response:
        raw = b"".join(response.iter_raw())
    assert "content-encoding" not in response.headers
    assert json.loads(raw)["object"] == "chat.completion"


# -- async -----------------------------------------------------------------------------------


def test_async_client_chat_and_stream(server: FakeOpenAI) -> None:
    async def run() -> tuple[str | None, list[str], int | None]:
        async with openai.AsyncOpenAI(
            api_key="sk-test", base_url=server.url, max_retries=0, _strict_response_validation=True
        ) as sdk:
            completion = await sdk.chat.completions.create(model="gpt-4o", messages=HELLO)
            stream = await sdk.chat.completions.create(
                model="gpt-4o",
                messages=HELLO,
                stream=True,
                stream_options={"include_usage": True},
            )
            pieces: list[str] = []
            total: int | None = None
            async with stream:
                async for chunk in stream:
                    if chunk.choices:
                        pieces.append(chunk.choices[0].delta.content or "")
                    elif chunk.usage is not None:
                        total = chunk.usage.total_tokens
            return completion.choices[0].message.content, pieces, total

    content, pieces, total = asyncio.run(run())
    assert content == "Echo: Hello, world!"
    assert "".join(pieces) == "Echo: Hello, world!"
    assert total == HELLO_PROMPT_TOKENS + HELLO_COMPLETION_TOKENS
    assert [request.headers["x-stainless-async"] for request in server.requests] == [
        "async:asyncio"
    ] * 2
