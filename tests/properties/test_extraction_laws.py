"""Extraction of OpenAI usage never raises, never makes a count up, and reads valid payloads
exactly, whatever shape the payload is in (dict or SDK object)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from openai.types import CompletionUsage
from openai.types.responses import ResponseUsage

from aiusage_core._openai._extract import Usage, extract_usage
from pytest_aiusage.strategies import OpenAIAPI, openai_usage

APIS: list[OpenAIAPI] = ["chat", "responses", "embeddings"]
CORE = {
    "chat": ("prompt_tokens", "completion_tokens"),
    "responses": ("input_tokens", "output_tokens"),
    "embeddings": ("prompt_tokens",),
}


def check_invariants(usage: Usage) -> None:
    counts = (
        usage.input_tokens,
        usage.cached_input_tokens,
        usage.cache_write_tokens,
        usage.output_tokens,
        usage.reasoning_tokens,
        usage.input_audio_tokens,
        usage.output_audio_tokens,
    )
    assert all(type(n) is int and n >= 0 for n in counts)
    assert usage.cached_input_tokens + usage.cache_write_tokens <= usage.input_tokens
    assert usage.input_audio_tokens <= usage.input_tokens
    assert usage.reasoning_tokens <= usage.output_tokens
    assert usage.output_audio_tokens <= usage.output_tokens
    assert usage.status in ("reported", "missing")
    if usage.status == "missing":
        assert sum(counts) == 0


def is_count(value: object) -> bool:
    return type(value) is int and value >= 0


@pytest.mark.parametrize("api", APIS)
@given(data=st.data())
def test_extraction_never_raises_on_malformed_usage(api: OpenAIAPI, data: st.DataObject) -> None:
    payload = data.draw(openai_usage(api, malformed=True))
    usage = extract_usage(api, payload)
    check_invariants(usage)
    # Broken core counts make the usage missing: a cost is never guessed from them.
    core_sound = all(is_count(payload.get(name)) for name in CORE[api])
    assert (usage.status == "reported") == core_sound


@pytest.mark.parametrize("api", APIS)
@given(
    payload=st.none()
    | st.integers()
    | st.text(max_size=5)
    | st.lists(st.integers(), max_size=3)
    | st.builds(object)
)
def test_extraction_never_raises_on_a_usage_that_is_not_a_mapping(
    api: OpenAIAPI, payload: object
) -> None:
    usage = extract_usage(api, payload)
    check_invariants(usage)
    assert usage.status == "missing"


@given(openai_usage("chat", malformed=True))
def test_extraction_never_raises_on_unvalidated_sdk_objects(payload: dict[str, Any]) -> None:
    # What the SDK builds from a response it does not validate (model_construct).
    check_invariants(extract_usage("chat", CompletionUsage.model_construct(**payload)))


def _detail(payload: dict[str, Any], details: str, name: str) -> int:
    value: int = (payload.get(details) or {}).get(name, 0)
    return value


@given(openai_usage("chat"))
def test_valid_chat_usage_is_read_exactly(payload: dict[str, Any]) -> None:
    expected = Usage(
        "reported",
        input_tokens=payload["prompt_tokens"],
        cached_input_tokens=_detail(payload, "prompt_tokens_details", "cached_tokens"),
        cache_write_tokens=_detail(payload, "prompt_tokens_details", "cache_write_tokens"),
        output_tokens=payload["completion_tokens"],
        reasoning_tokens=_detail(payload, "completion_tokens_details", "reasoning_tokens"),
        input_audio_tokens=_detail(payload, "prompt_tokens_details", "audio_tokens"),
        output_audio_tokens=_detail(payload, "completion_tokens_details", "audio_tokens"),
    )
    assert extract_usage("chat", payload) == expected
    assert extract_usage("chat", CompletionUsage.model_validate(payload)) == expected


@given(openai_usage("responses"))
def test_valid_responses_usage_is_read_exactly(payload: dict[str, Any]) -> None:
    expected = Usage(
        "reported",
        input_tokens=payload["input_tokens"],
        cached_input_tokens=payload["input_tokens_details"]["cached_tokens"],
        cache_write_tokens=payload["input_tokens_details"]["cache_write_tokens"],
        output_tokens=payload["output_tokens"],
        reasoning_tokens=payload["output_tokens_details"]["reasoning_tokens"],
    )
    assert extract_usage("responses", payload) == expected
    assert extract_usage("responses", ResponseUsage.model_validate(payload)) == expected


@given(openai_usage("embeddings"))
def test_valid_embeddings_usage_is_read_exactly(payload: dict[str, Any]) -> None:
    expected = Usage("reported", input_tokens=payload["prompt_tokens"])
    assert extract_usage("embeddings", payload) == expected
