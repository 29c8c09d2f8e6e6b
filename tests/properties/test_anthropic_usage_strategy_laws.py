"""The public ``anthropic_usage`` strategy against the Anthropic adapter's normalisation:
valid payloads are read exactly and keep the vocabulary's conventions; malformed ones never
raise and never break them (a count is never made up)."""

from __future__ import annotations

from typing import Any

from anthropic.types import Usage as SdkUsage
from hypothesis import given

from aiusage_core._anthropic._extract import normalise
from aiusage_core._counts import Usage
from pytest_aiusage import strategies as ais


def keeps_the_conventions(found: Usage) -> None:
    counts = found.counts()
    assert all(type(n) is int and n >= 0 for n in counts.values())
    assert found.input_tokens >= found.cached_input_tokens + found.cache_write_tokens
    assert found.cache_write_tokens >= found.cache_write_1h_tokens
    assert found.output_tokens >= found.reasoning_tokens
    if found.status == "missing":
        assert sum(counts.values()) == 0


@given(ais.anthropic_usage())
def test_valid_usage_is_read_exactly(usage: dict[str, Any]) -> None:
    found = normalise(usage)
    keeps_the_conventions(found)
    read = usage.get("cache_read_input_tokens") or 0
    written = usage.get("cache_creation_input_tokens") or 0
    by_ttl = usage.get("cache_creation") or {}
    assert found.status == "reported"
    assert found.input_tokens == usage["input_tokens"] + read + written
    assert (found.cached_input_tokens, found.cache_write_tokens) == (read, written)
    assert found.cache_write_1h_tokens == by_ttl.get("ephemeral_1h_input_tokens", 0)
    assert found.output_tokens == usage["output_tokens"]
    thinking = (usage.get("output_tokens_details") or {}).get("thinking_tokens", 0)
    assert found.reasoning_tokens == thinking
    searches = (usage.get("server_tool_use") or {}).get("web_search_requests", 0)
    assert found.web_search_requests == searches
    # The SDK's model of the same payload reads the same.
    assert normalise(SdkUsage.model_validate(usage)) == found


@given(ais.anthropic_usage(malformed=True))
def test_malformed_usage_never_raises_nor_breaks_the_conventions(usage: dict[str, Any]) -> None:
    keeps_the_conventions(normalise(usage))  # logs a warning for what it cannot use
