"""Extraction of OpenAI usage never raises, never makes a count up, and reads valid payloads
exactly, whatever shape the payload is in (dict or SDK object)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from openai.types import CompletionUsage, CreateEmbeddingResponse
from openai.types.chat import ChatCompletion
from openai.types.completion_usage import CompletionTokensDetails, PromptTokensDetails
from openai.types.create_embedding_response import Usage as EmbeddingUsage
from openai.types.responses import Response, ResponseError, ResponseUsage
from openai.types.responses.response_usage import InputTokensDetails, OutputTokensDetails

from aiusage_core._openai._extract import (
    Usage,
    _extract_any,
    _extract_plain,
    extract,
    extract_usage,
)
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


# -- the one-frame path for SDK responses --------------------------------------------------

# Counts at and around the boundaries of the one-frame path: valid ints (often), negatives,
# None, bools, floats and strings; details as SDK objects, absent or of a foreign type.
COUNT = st.one_of(
    st.integers(0, 5_000),
    st.integers(0, 50),
    st.integers(-5, -1),
    st.none(),
    st.booleans(),
    st.sampled_from([2.0, "3", -0.0]),
)
MODELS = st.sampled_from(["gpt-4o-mini", "gpt-4o-mini", "", None, 4])
TIERS = st.sampled_from([None, "default", "flex", "", 7])


def _details(detail_type: type[Any], *names: str) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.builds(
            lambda counts: detail_type.model_construct(**counts),
            st.fixed_dictionaries({}, optional=dict.fromkeys(names, COUNT)),
        ),
        st.none(),
        st.just({"cached_tokens": 1}),
    )


def _usage(usage_type: type[Any], counts: dict[str, Any]) -> st.SearchStrategy[Any]:
    return st.builds(
        lambda fields: usage_type.model_construct(**fields),
        st.fixed_dictionaries({}, optional=counts),
    )


SDK_RESPONSES: dict[OpenAIAPI, st.SearchStrategy[Any]] = {
    "chat": st.builds(
        lambda usage, model, tier: ChatCompletion.model_construct(
            usage=usage, model=model, service_tier=tier
        ),
        _usage(
            CompletionUsage,
            {
                "prompt_tokens": COUNT,
                "completion_tokens": COUNT,
                "prompt_tokens_details": _details(
                    PromptTokensDetails, "cached_tokens", "cache_write_tokens", "audio_tokens"
                ),
                "completion_tokens_details": _details(
                    CompletionTokensDetails, "reasoning_tokens", "audio_tokens"
                ),
            },
        )
        | st.none(),
        MODELS,
        TIERS,
    ),
    "responses": st.builds(
        lambda usage, model, tier, error: Response.model_construct(
            usage=usage, model=model, service_tier=tier, error=error
        ),
        _usage(
            ResponseUsage,
            {
                "input_tokens": COUNT,
                "output_tokens": COUNT,
                "input_tokens_details": _details(
                    InputTokensDetails, "cached_tokens", "cache_write_tokens"
                ),
                "output_tokens_details": _details(OutputTokensDetails, "reasoning_tokens"),
            },
        )
        | st.none(),
        MODELS,
        TIERS,
        st.none()
        | st.builds(
            lambda message: ResponseError.model_construct(code="server_error", message=message),
            st.sampled_from(["boom", ""]),
        ),
    ),
    "embeddings": st.builds(
        lambda usage, model: CreateEmbeddingResponse.model_construct(usage=usage, model=model),
        _usage(EmbeddingUsage, {"prompt_tokens": COUNT, "total_tokens": COUNT}) | st.none(),
        MODELS,
    ),
}


@pytest.mark.parametrize("api", APIS)
@given(data=st.data())
def test_the_one_frame_path_agrees_with_the_general_one(
    api: OpenAIAPI, data: st.DataObject
) -> None:
    response = data.draw(SDK_RESPONSES[api])
    general = _extract_any(api, response)  # also teaches the one-frame path these types
    plain = _extract_plain(api, response)
    assert plain is None or plain == general
    assert extract(api, response) == general


_SDK_USAGE: dict[OpenAIAPI, type[Any]] = {
    "chat": CompletionUsage,
    "responses": ResponseUsage,
    "embeddings": EmbeddingUsage,
}


def valid_sdk_response(api: OpenAIAPI, payload: dict[str, Any]) -> Any:
    """A response as the SDK parses it, from a valid usage payload."""
    usage = _SDK_USAGE[api].model_validate(payload)
    if api == "chat":
        return ChatCompletion.model_construct(
            usage=usage, model="gpt-4o-mini", service_tier="default"
        )
    if api == "responses":
        return Response.model_construct(
            usage=usage, model="gpt-4o-mini", service_tier="default", error=None
        )
    return CreateEmbeddingResponse.model_construct(usage=usage, model="text-embedding-3-small")


@pytest.mark.parametrize("api", APIS)
@given(data=st.data())
def test_valid_sdk_responses_take_the_one_frame_path(api: OpenAIAPI, data: st.DataObject) -> None:
    response = valid_sdk_response(api, data.draw(openai_usage(api)))
    general = _extract_any(api, response)
    assert general.usage.status == "reported"
    assert _extract_plain(api, response) == general


# Every place of a valid response one value can be wrong in: (api, object path, field).
PLACES = [
    ("chat", (), "model"),
    ("chat", (), "service_tier"),
    ("chat", ("usage",), "prompt_tokens"),
    ("chat", ("usage",), "completion_tokens"),
    ("chat", ("usage",), "prompt_tokens_details"),
    ("chat", ("usage",), "completion_tokens_details"),
    ("chat", ("usage", "prompt_tokens_details"), "cached_tokens"),
    ("chat", ("usage", "prompt_tokens_details"), "cache_write_tokens"),
    ("chat", ("usage", "prompt_tokens_details"), "audio_tokens"),
    ("chat", ("usage", "completion_tokens_details"), "reasoning_tokens"),
    ("chat", ("usage", "completion_tokens_details"), "audio_tokens"),
    ("responses", (), "error"),
    ("responses", ("usage",), "input_tokens"),
    ("responses", ("usage",), "output_tokens"),
    ("responses", ("usage", "input_tokens_details"), "cached_tokens"),
    ("responses", ("usage", "input_tokens_details"), "cache_write_tokens"),
    ("responses", ("usage", "output_tokens_details"), "reasoning_tokens"),
    ("embeddings", (), "model"),
    ("embeddings", ("usage",), "prompt_tokens"),
]
ODD_VALUES = st.one_of(
    COUNT,
    st.integers(0, 10**6),
    st.sampled_from(["", "gpt-4o", {"cached_tokens": 1}, [1]]),
    st.builds(lambda: ResponseError.model_construct(code="server_error", message="boom")),
)


@pytest.mark.parametrize(("api", "path", "name"), PLACES)
@given(data=st.data())
def test_one_odd_value_anywhere_gives_what_the_general_path_gives(
    api: OpenAIAPI, path: tuple[str, ...], name: str, data: st.DataObject
) -> None:
    response = valid_sdk_response(api, data.draw(openai_usage(api)))
    _extract_any(api, response)  # teaches the one-frame path these types
    target = response
    for step in path:
        target = getattr(target, step)
    if target is None:  # an optional details object the payload left out
        return
    object.__setattr__(target, name, data.draw(ODD_VALUES))
    assert extract(api, response) == _extract_any(api, response)
