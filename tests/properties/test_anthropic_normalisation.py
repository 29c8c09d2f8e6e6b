"""Laws of the Anthropic adapter's normalisation: for any valid usage payload Anthropic may
send (as JSON or as the SDK's model), the record keeps the vocabulary's conventions."""

from __future__ import annotations

from typing import Any

from anthropic.types import Usage as SdkUsage
from hypothesis import given
from hypothesis import strategies as st

from aiusage_core._anthropic._extract import StreamedMessage, extract, normalise

counts = st.integers(min_value=0, max_value=10**9)


@st.composite
def anthropic_usages(draw: st.DrawFn) -> dict[str, Any]:
    """A valid ``usage`` object: the two core counts, and any of the optional parts."""
    usage: dict[str, Any] = {"input_tokens": draw(counts), "output_tokens": draw(counts)}
    if draw(st.booleans()):
        five, hour = draw(counts), draw(counts)
        usage["cache_creation"] = {
            "ephemeral_5m_input_tokens": five,
            "ephemeral_1h_input_tokens": hour,
        }
        usage["cache_creation_input_tokens"] = five + hour
    elif draw(st.booleans()):
        usage["cache_creation_input_tokens"] = draw(st.none() | counts)
    if draw(st.booleans()):
        usage["cache_read_input_tokens"] = draw(st.none() | counts)
    if draw(st.booleans()):
        usage["output_tokens_details"] = {
            "thinking_tokens": draw(st.integers(0, usage["output_tokens"]))
        }
    if draw(st.booleans()):
        usage["server_tool_use"] = {
            "web_search_requests": draw(st.integers(0, 1000)),
            "web_fetch_requests": draw(st.integers(0, 1000)),
        }
    if draw(st.booleans()):
        usage["service_tier"] = draw(st.sampled_from(["standard", "priority", "batch"]))
    return usage


def _check(usage: dict[str, Any], found: Any) -> None:
    assert found.status == "reported"
    assert found.input_tokens >= found.cached_input_tokens + found.cache_write_tokens
    assert found.cache_write_tokens >= found.cache_write_1h_tokens
    assert found.output_tokens >= found.reasoning_tokens
    # Nothing lost, nothing made up: the input is Anthropic's three input counts.
    assert found.input_tokens == (
        usage["input_tokens"]
        + (usage.get("cache_read_input_tokens") or 0)
        + (usage.get("cache_creation_input_tokens") or 0)
    )
    assert found.cached_input_tokens == (usage.get("cache_read_input_tokens") or 0)
    assert found.output_tokens == usage["output_tokens"]
    assert found.input_audio_tokens == found.output_audio_tokens == 0


@given(anthropic_usages())
def test_normalised_json_usage_keeps_the_conventions(usage: dict[str, Any]) -> None:
    _check(usage, normalise(usage))


@given(anthropic_usages())
def test_normalised_sdk_usage_keeps_the_conventions_and_equals_the_json_reading(
    usage: dict[str, Any],
) -> None:
    model = SdkUsage.model_validate(usage)
    _check(usage, normalise(model))
    assert normalise(model) == normalise(usage)


@given(anthropic_usages(), st.integers(min_value=0, max_value=10**9))
def test_a_stream_takes_the_cumulative_delta_counts_never_their_sum(
    usage: dict[str, Any], first_output: int
) -> None:
    start = {**usage, "output_tokens": first_output}
    start.pop("server_tool_use", None)
    streamed = StreamedMessage({"model": "claude-haiku-4-5", "usage": start})
    # message_delta repeats the counts it carries (cumulative), some of them absent.
    streamed.update({name: usage.get(name) for name in ("output_tokens", "server_tool_use")})
    streamed.update(usage)
    read = extract(streamed)
    assert read.usage == normalise(usage)
    _check(usage, read.usage)


@given(anthropic_usages(), st.sampled_from(["input_tokens", "output_tokens"]), st.integers(-5, -1))
def test_an_unusable_core_count_makes_the_usage_missing(
    usage: dict[str, Any], name: str, bad: int
) -> None:
    assert normalise({**usage, name: bad}).status == "missing"
