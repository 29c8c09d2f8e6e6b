"""The public strategies make what they promise: OpenAI's and Anthropic's wire shapes (the
real SDKs parse them), consistent counts, every kind of malformed payload, and bounded trees."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest
from anthropic.types import Usage as AnthropicUsage
from hypothesis import Phase, find, given, settings
from hypothesis import strategies as st
from hypothesis.strategies import SearchStrategy
from openai.types import CompletionUsage, CreateEmbeddingResponse
from openai.types.responses import ResponseUsage

from aiusage_core import ConfigurationError, MetadataError, UsageRecord, ai_usage_context
from pytest_aiusage import strategies as ais


def depth(value: object) -> int:
    """Levels of mappings nested below ``value`` (0 for a flat mapping)."""
    if isinstance(value, dict):
        return max((depth_of_value(v) for v in value.values()), default=0)
    return 0


def depth_of_value(value: object) -> int:
    return 1 + depth(value) if isinstance(value, dict) else 0


@given(ais.metadata(max_depth=2, max_size=4))
def test_metadata_is_json_and_accepted_by_a_context(meta: dict[str, Any]) -> None:
    assert json.loads(json.dumps(meta)) == meta
    assert depth(meta) <= 2
    assert len(meta) <= 4
    assert set(meta) <= set(ais.METADATA_KEYS)
    with ai_usage_context("job", **meta):  # raises MetadataError if not acceptable
        pass


@given(ais.metadata(max_depth=0, keys=["a", "b"]))
def test_flat_metadata_with_custom_keys(meta: dict[str, Any]) -> None:
    assert depth(meta) == 0
    assert set(meta) <= {"a", "b"}


@given(ais.openai_usage("chat"))
def test_chat_usage_is_consistent_and_parsed_by_the_sdk(usage: dict[str, Any]) -> None:
    parsed = CompletionUsage.model_validate(usage)
    assert parsed.total_tokens == parsed.prompt_tokens + parsed.completion_tokens
    prompt = usage.get("prompt_tokens_details") or {}
    completion = usage.get("completion_tokens_details") or {}
    assert all(isinstance(v, int) and v >= 0 for v in (*prompt.values(), *completion.values()))

    def part(details: dict[str, int], *names: str) -> int:
        return sum(details.get(name, 0) for name in names)

    assert part(prompt, "cached_tokens", "cache_write_tokens") <= parsed.prompt_tokens
    assert part(prompt, "text_tokens", "audio_tokens", "image_tokens") <= parsed.prompt_tokens
    assert (
        part(completion, "reasoning_tokens", "accepted_prediction_tokens")
        + part(completion, "rejected_prediction_tokens")
        <= parsed.completion_tokens
    )
    assert part(completion, "text_tokens", "audio_tokens") <= parsed.completion_tokens


@given(ais.openai_usage("responses"))
def test_responses_usage_is_consistent_and_parsed_by_the_sdk(usage: dict[str, Any]) -> None:
    parsed = ResponseUsage.model_validate(usage)
    assert parsed.total_tokens == parsed.input_tokens + parsed.output_tokens
    assert 0 <= parsed.input_tokens_details.cached_tokens <= parsed.input_tokens
    assert 0 <= parsed.output_tokens_details.reasoning_tokens <= parsed.output_tokens


@given(ais.openai_usage("embeddings"))
def test_embeddings_usage_is_consistent_and_parsed_by_the_sdk(usage: dict[str, Any]) -> None:
    parsed = CreateEmbeddingResponse.model_validate(
        {"object": "list", "data": [], "model": "text-embedding-3-small", "usage": usage}
    )
    assert parsed.usage.total_tokens == parsed.usage.prompt_tokens >= 0


def _anywhere(payload: object, test: Callable[[object], bool]) -> bool:
    if test(payload):
        return True
    if isinstance(payload, dict):
        return any(_anywhere(v, test) for v in payload.values())
    return False


def _is_negative(v: object) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v < 0


def _is_bad_float(v: object) -> bool:
    return isinstance(v, float) and (math.isnan(v) or v != int(v) if math.isfinite(v) else True)


KINDS: dict[str, Callable[[dict[str, Any]], bool]] = {
    "missing prompt_tokens": lambda u: "prompt_tokens" not in u,
    "None prompt_tokens": lambda u: "prompt_tokens" in u and u["prompt_tokens"] is None,
    "negative count": lambda u: _anywhere(u, _is_negative),
    "count as a string": lambda u: isinstance(u.get("completion_tokens"), str),
    "non-integral float": lambda u: _anywhere(u, _is_bad_float),
    "details not a mapping": lambda u: isinstance(u.get("prompt_tokens_details"), list | int),
    "extra key": lambda u: bool(
        set(u)
        - {"prompt_tokens", "completion_tokens", "total_tokens"}
        - {"prompt_tokens_details", "completion_tokens_details"}
    ),
    "cached above prompt": lambda u: (
        isinstance(u.get("prompt_tokens"), int)
        and isinstance(u.get("prompt_tokens_details"), dict)
        and isinstance(u["prompt_tokens_details"].get("cached_tokens"), int)
        and u["prompt_tokens_details"]["cached_tokens"] > u["prompt_tokens"]
    ),
    "empty": lambda u: u == {},
}


def test_malformed_chat_usage_reaches_every_kind_of_damage() -> None:
    seen: set[str] = set()

    def every_kind_seen(usage: dict[str, Any]) -> bool:
        seen.update(kind for kind, test in KINDS.items() if test(usage))
        return seen == set(KINDS)

    find(
        ais.openai_usage("chat", malformed=True),
        every_kind_seen,
        settings=settings(max_examples=5_000, database=None, phases=[Phase.generate]),
    )
    assert seen == set(KINDS)


@pytest.mark.parametrize("api", ["chat", "responses", "embeddings"])
@given(data=st.data())
def test_malformed_usage_is_always_a_dict(api: ais.OpenAIAPI, data: st.DataObject) -> None:
    assert isinstance(data.draw(ais.openai_usage(api, malformed=True)), dict)


@given(ais.anthropic_usage(max_tokens=10_000))
def test_anthropic_usage_is_consistent_and_parsed_by_the_sdk(usage: dict[str, Any]) -> None:
    parsed = AnthropicUsage.model_validate(usage)
    cache_read = parsed.cache_read_input_tokens or 0
    cache_write = parsed.cache_creation_input_tokens or 0
    # The cache reads and writes are beside input_tokens: the three make the prompt.
    assert min(parsed.input_tokens, cache_read, cache_write, parsed.output_tokens) >= 0
    assert parsed.input_tokens + cache_read + cache_write <= 10_000
    if parsed.cache_creation is not None:
        by_ttl = parsed.cache_creation
        assert by_ttl.ephemeral_5m_input_tokens + by_ttl.ephemeral_1h_input_tokens == cache_write
    if parsed.output_tokens_details is not None:
        assert parsed.output_tokens_details.thinking_tokens <= parsed.output_tokens
    if parsed.server_tool_use is not None:
        assert parsed.server_tool_use.web_search_requests >= 0
    assert parsed.service_tier in (None, "standard", "priority", "batch")


ANTHROPIC_SHAPES: dict[str, Callable[[dict[str, Any]], bool]] = {
    "cache reads": lambda u: bool(u.get("cache_read_input_tokens")),
    "one-hour cache writes": lambda u: bool(
        (u.get("cache_creation") or {}).get("ephemeral_1h_input_tokens")
    ),
    "writes without a breakdown": lambda u: (
        bool(u.get("cache_creation_input_tokens")) and u.get("cache_creation") is None
    ),
    "null cache counts": lambda u: (
        "cache_read_input_tokens" in u and u["cache_read_input_tokens"] is None
    ),
    "web searches": lambda u: bool((u.get("server_tool_use") or {}).get("web_search_requests")),
    "thinking": lambda u: bool((u.get("output_tokens_details") or {}).get("thinking_tokens")),
    "batch tier": lambda u: u.get("service_tier") == "batch",
}


def test_anthropic_usage_reaches_every_shape_a_response_has() -> None:
    seen: set[str] = set()

    def every_shape_seen(usage: dict[str, Any]) -> bool:
        seen.update(shape for shape, test in ANTHROPIC_SHAPES.items() if test(usage))
        return seen == set(ANTHROPIC_SHAPES)

    find(
        ais.anthropic_usage(),
        every_shape_seen,
        settings=settings(max_examples=2_000, database=None, phases=[Phase.generate]),
    )
    assert seen == set(ANTHROPIC_SHAPES)


@given(ais.anthropic_usage(malformed=True))
def test_malformed_anthropic_usage_is_a_dict_the_sdk_may_refuse(usage: dict[str, Any]) -> None:
    assert isinstance(usage, dict)


def test_malformed_anthropic_usage_has_parts_larger_than_their_whole() -> None:
    def part_too_large(usage: dict[str, Any]) -> bool:
        writes = usage.get("cache_creation_input_tokens")
        by_ttl = usage.get("cache_creation")
        return (
            type(writes) is int
            and isinstance(by_ttl, dict)
            and any(type(v) is int and v > writes for v in by_ttl.values())
        )

    find(
        ais.anthropic_usage(malformed=True),
        part_too_large,
        settings=settings(max_examples=5_000, database=None, phases=[Phase.generate]),
    )


@given(ais.context_trees(max_depth=2, max_children=2, max_calls=1))
def test_context_trees_respect_their_bounds(tree: ais.ContextTree) -> None:
    assert tree.depth <= 2
    for node in tree.walk():
        assert len(node.children) <= 2
        assert len(node.calls) <= 1
        assert node.operation_type in ais.OPERATION_TYPES
    assert tree.size == sum(1 for _ in tree.walk())
    assert tree.call_count == sum(len(node.calls) for node in tree.walk())


@given(ais.call_specs())
def test_call_specs_are_valid_for_record_usage(spec: ais.CallSpec) -> None:
    assert 0 <= spec.cached_input_tokens <= spec.input_tokens
    assert 0 <= spec.reasoning_tokens <= spec.output_tokens
    if spec.api == "embeddings":
        assert spec.output_tokens == 0
    with ai_usage_context("call") as ctx:
        record = spec.record()
    assert ctx.records == [record]
    assert record.cost_usd == spec.expected_cost()


@given(ais.usage_records())
def test_usage_records_are_consistent(record: UsageRecord) -> None:
    assert 0 <= record.cached_input_tokens + record.cache_write_tokens <= record.input_tokens
    assert 0 <= record.reasoning_tokens <= record.output_tokens
    assert record.cost_usd is None or record.cost_usd >= 0
    if record.usage_status == "missing":
        assert record.total_tokens == 0
        assert record.cost_usd is None
    assert record.timestamp.utcoffset() is not None
    with pytest.raises(TypeError):
        record.metadata["x"] = 1  # type: ignore[index]


@pytest.mark.parametrize(
    ("make", "name"),
    [
        (lambda: ais.metadata(max_depth=-1), "metadata(max_depth=...)"),
        (lambda: ais.metadata(keys=[]), "metadata(keys=...)"),
        (lambda: ais.context_trees(max_depth=0), "context_trees(max_depth=...)"),
        (lambda: ais.openai_usage("completions"), "api"),  # type: ignore[arg-type]
        (lambda: ais.openai_usage(max_tokens=-5), "openai_usage(max_tokens=...)"),
        (lambda: ais.anthropic_usage(max_tokens=-1), "anthropic_usage(max_tokens=...)"),
        (lambda: ais.call_specs(models="gpt-4o"), "call_specs(models=...)"),
        (lambda: ais.usage_records(max_tokens=True), "usage_records(max_tokens=...)"),
    ],
)
def test_bad_strategy_arguments_raise_naming_the_argument(
    make: Callable[[], SearchStrategy[Any]], name: str
) -> None:
    with pytest.raises(ConfigurationError) as raised:
        make()
    assert raised.value.name == name


def test_run_tree_rejects_an_unknown_concurrency_and_a_schedule_for_a_sequential_run() -> None:
    import random

    tree = ais.ContextTree(operation_type="job")
    with pytest.raises(ConfigurationError, match="'fibers'"):
        ais.run_tree(tree, concurrency="fibers")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="interleaving"):
        ais.run_tree(tree, interleaving=random.Random(1))


def test_a_hand_built_tree_runs_to_the_published_prices() -> None:
    # gpt-4o-mini: $0.15 / MTok input, $0.075 / MTok cached input, $0.60 / MTok output.
    leaf = ais.CallSpec(model="gpt-4o-mini", input_tokens=1_000, output_tokens=200)
    cached = ais.CallSpec(
        model="gpt-4o-mini", input_tokens=2_000, cached_input_tokens=1_000, output_tokens=0
    )
    tree = ais.ContextTree(
        operation_type="receipt_batch",
        metadata={"job_id": "job-1"},
        calls=(leaf,),
        children=(
            ais.ContextTree(operation_type="receipt", calls=(cached,)),
            ais.ContextTree(operation_type="receipt", calls=(leaf, leaf)),
        ),
    )
    run = ais.run_tree(tree, concurrency="threads")
    from decimal import Decimal

    leaf_cost = Decimal("0.00015") + Decimal("0.00012")
    cached_cost = Decimal("0.00015") + Decimal("0.000075")
    assert run.context.totals.cost_usd == 3 * leaf_cost + cached_cost
    assert run.children[1].context.totals.cost_usd == 2 * leaf_cost
    assert run.context.totals.calls == 4
    assert [r.context_path for r in run.children[0].records] == [("receipt_batch", "receipt")]
    assert run.children[0].records[0].metadata["job_id"] == "job-1"
    assert ais.expected_totals(tree) == run.context.totals


def test_metadata_strategy_values_are_accepted_where_other_values_are_not() -> None:
    # The strategy's values are the JSON kinds validation accepts; a set is not one.
    with pytest.raises(MetadataError):
        ai_usage_context("job", tags={1, 2})


def test_the_strategies_module_is_documented_and_sorted() -> None:
    # isort-style order, as ruff keeps it: CONSTANTS, then Classes, then functions.
    assert ais.__all__ == sorted(
        ais.__all__, key=lambda n: (not n.isupper(), not n[0].isupper(), n)
    )
    for name in ais.__all__:
        obj = getattr(ais, name)
        if callable(obj) and name not in {"Concurrency", "OpenAIAPI"}:
            assert (obj.__doc__ or "").strip(), name


def test_importing_the_packages_does_not_import_hypothesis() -> None:
    # hypothesis is an optional extra: only pytest_aiusage.strategies may need it.
    code = "import sys, aiusage_core, pytest_aiusage; sys.exit('hypothesis' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
