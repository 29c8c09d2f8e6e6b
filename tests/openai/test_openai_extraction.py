"""Usage extraction: every field lands where it belongs, malformed usage never raises and
never yields a negative or invented count."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openai._models import construct_type
from openai.types.chat import ChatCompletion, ChatCompletionChunk
from openai.types.create_embedding_response import CreateEmbeddingResponse
from openai.types.responses import Response

from aiusage_core._openai._extract import MISSING, Usage, extract, extract_usage

RESPONSE_TYPES: dict[str, Any] = {
    "chat": ChatCompletion,
    "responses": Response,
    "embeddings": CreateEmbeddingResponse,
}


def as_sdk(api: str, usage: object, **fields: Any) -> object:
    """A response of ``api`` as the SDK builds it from a (possibly malformed) JSON body."""
    return construct_type(type_=RESPONSE_TYPES[api], value={"usage": usage, **fields})


@pytest.mark.parametrize("form", ["dict", "sdk"])
def test_chat_usage_fields_map_to_record_fields(form: str) -> None:
    usage = {
        "prompt_tokens": 1000,
        "completion_tokens": 300,
        "total_tokens": 1300,
        "prompt_tokens_details": {
            "cached_tokens": 200,
            "cache_write_tokens": 50,
            "audio_tokens": 7,
        },
        "completion_tokens_details": {"reasoning_tokens": 120, "audio_tokens": 9},
    }
    body: object = {"usage": usage} if form == "dict" else as_sdk("chat", usage)
    assert extract("chat", body).usage == Usage(
        "reported",
        input_tokens=1000,
        cached_input_tokens=200,
        cache_write_tokens=50,
        output_tokens=300,
        reasoning_tokens=120,
        input_audio_tokens=7,
        output_audio_tokens=9,
    )


@pytest.mark.parametrize("form", ["dict", "sdk"])
def test_responses_usage_fields_map_to_record_fields(form: str) -> None:
    usage = {
        "input_tokens": 900,
        "input_tokens_details": {"cached_tokens": 100, "cache_write_tokens": 30},
        "output_tokens": 250,
        "output_tokens_details": {"reasoning_tokens": 200},
        "total_tokens": 1150,
    }
    body: object = {"usage": usage} if form == "dict" else as_sdk("responses", usage)
    assert extract("responses", body).usage == Usage(
        "reported",
        input_tokens=900,
        cached_input_tokens=100,
        cache_write_tokens=30,
        output_tokens=250,
        reasoning_tokens=200,
    )


def test_embeddings_usage_is_input_only() -> None:
    found = extract("embeddings", as_sdk("embeddings", {"prompt_tokens": 12, "total_tokens": 12}))
    assert found.usage == Usage("reported", input_tokens=12)


def test_model_service_tier_and_a_failed_responses_error_are_read() -> None:
    found = extract(
        "responses",
        as_sdk(
            "responses",
            None,
            model="o3-2025-04-16",
            service_tier="flex",
            error={"code": "server_error", "message": "boom"},
        ),
    )
    assert (found.model, found.service_tier, found.error) == ("o3-2025-04-16", "flex", "boom")
    assert found.usage is MISSING


def test_a_usage_chunk_is_read_like_a_response() -> None:
    chunk = construct_type(
        type_=ChatCompletionChunk,
        value={
            "model": "gpt-4o-mini-2024-07-18",
            "choices": [],
            "usage": {"prompt_tokens": 5, "completion_tokens": 2},
        },
    )
    found = extract("chat", chunk)
    assert (found.usage.input_tokens, found.usage.output_tokens) == (5, 2)


@pytest.mark.parametrize(
    "usage",
    [
        None,
        {},
        {"prompt_tokens": 10},
        {"prompt_tokens": None, "completion_tokens": 3},
        {"prompt_tokens": -1, "completion_tokens": 3},
        {"prompt_tokens": "10", "completion_tokens": 3},
        {"prompt_tokens": 10.0, "completion_tokens": 3},
        {"prompt_tokens": True, "completion_tokens": 3},
        "not a usage object",
        [1, 2],
    ],
)
def test_unusable_core_counts_make_the_usage_missing(usage: object) -> None:
    assert extract_usage("chat", usage) is MISSING
    assert extract("chat", as_sdk("chat", usage)).usage is MISSING


def test_malformed_details_count_as_zero_and_keep_the_usage_reported(
    caplog: pytest.LogCaptureFixture,
) -> None:
    usage = {
        "prompt_tokens": 100,
        "completion_tokens": 10,
        "prompt_tokens_details": {"cached_tokens": -5, "audio_tokens": "3"},
        "completion_tokens_details": {"reasoning_tokens": None},
    }
    with caplog.at_level(logging.WARNING, logger="aiusage"):
        found = extract_usage("chat", usage)
    assert found == Usage("reported", input_tokens=100, output_tokens=10)
    assert "cached_tokens=-5" in caplog.text
    assert "reasoning_tokens" not in caplog.text  # None simply means none


def test_details_larger_than_their_total_are_clamped_and_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    usage = {
        "input_tokens": 100,
        "input_tokens_details": {"cached_tokens": 150, "cache_write_tokens": 10},
        "output_tokens": 10,
        "output_tokens_details": {"reasoning_tokens": 11},
    }
    with caplog.at_level(logging.WARNING, logger="aiusage"):
        found = extract_usage("responses", usage)
    assert found == Usage(
        "reported", input_tokens=100, cached_input_tokens=100, output_tokens=10, reasoning_tokens=10
    )
    assert "cached_tokens=150 exceeds input_tokens=100" in caplog.text


# -- arbitrary payloads ------------------------------------------------------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=5),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=8,
)
COUNT_NAMES = [
    "prompt_tokens",
    "completion_tokens",
    "input_tokens",
    "output_tokens",
    "cached_tokens",
    "cache_write_tokens",
    "reasoning_tokens",
    "audio_tokens",
    "total_tokens",
]
counts = st.integers(-5, 10**7) | json_values
details = st.dictionaries(st.sampled_from(COUNT_NAMES), counts, max_size=4) | json_values
usages = (
    st.fixed_dictionaries(
        {},
        optional={
            "prompt_tokens": counts,
            "completion_tokens": counts,
            "input_tokens": counts,
            "output_tokens": counts,
            "total_tokens": counts,
            "prompt_tokens_details": details,
            "completion_tokens_details": details,
            "input_tokens_details": details,
            "output_tokens_details": details,
        },
    )
    | json_values
)


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


@settings(max_examples=300, deadline=None)
@given(api=st.sampled_from(["chat", "responses", "embeddings"]), usage=usages, sdk=st.booleans())
def test_any_usage_payload_gives_sound_counts_without_raising(
    api: Any, usage: object, sdk: bool
) -> None:
    body = as_sdk(api, usage) if sdk else {"usage": usage}
    found = extract(api, body).usage

    assert found.status in ("reported", "missing")
    fields = found._asdict()
    del fields["status"]
    assert all(isinstance(v, int) and v >= 0 for v in fields.values())
    assert found.cached_input_tokens + found.cache_write_tokens <= found.input_tokens
    assert found.reasoning_tokens <= found.output_tokens
    assert found.input_audio_tokens <= found.input_tokens
    assert found.output_audio_tokens <= found.output_tokens
    if found.status == "missing":
        assert found == MISSING  # nothing invented
        return
    # Reported counts are the payload's own, never made up.
    assert isinstance(usage, dict)
    names = ("input_tokens", "output_tokens") if api == "responses" else ("prompt_tokens",)
    assert _is_count(usage[names[0]])
    assert found.input_tokens == usage[names[0]]
    if api != "embeddings":
        output_name = "output_tokens" if api == "responses" else "completion_tokens"
        assert found.output_tokens == usage[output_name]
    else:
        assert found.output_tokens == 0


@pytest.mark.parametrize(
    "usage",
    [
        {"prompt_tokens": "lots", "completion_tokens": -3},
        {
            "prompt_tokens": 10,
            "completion_tokens": 2,
            "prompt_tokens_details": {"cached_tokens": 99},
        },
        {"prompt_tokens": [], "completion_tokens": {}},
    ],
)
def test_malformed_usage_from_the_api_never_reaches_the_caller_as_an_error(
    usage: dict[str, Any],
) -> None:
    from openai_testing import HELLO, sdk_client

    from aiusage_core import ai_usage_context, wrap_openai
    from pytest_aiusage.fake_openai import FakeOpenAI

    with FakeOpenAI() as server, sdk_client(server) as plain, ai_usage_context("x") as ctx:
        client = wrap_openai(plain)
        server.reply(usage=usage)
        server.reply(usage=usage)
        completion = client.chat.completions.create(model="gpt-4o-mini", messages=HELLO)
        chunks = list(
            client.chat.completions.create(
                model="gpt-4o-mini",
                messages=HELLO,
                stream=True,
                stream_options={"include_usage": True},
            )
        )
    assert completion.choices
    assert chunks
    for record in ctx.records:
        assert record.input_tokens >= record.cached_input_tokens >= 0
        assert record.output_tokens >= 0
        assert (record.usage_status == "missing") == (record.cost_usd is None)
