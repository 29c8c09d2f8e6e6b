"""Hypothesis strategies for testing code that tracks AI usage (needs the ``hypothesis`` extra).

::

    pip install "pytest-aiusage[hypothesis]"

    from hypothesis import given
    from pytest_aiusage import strategies as ais

    @given(ais.openai_usage("chat", malformed=True))
    def test_my_usage_parser_never_raises(usage):
        my_parse_usage(usage)

Strategies:

* :func:`metadata`: JSON-compatible nested metadata with realistic keys.
* :func:`call_specs` and :func:`context_trees`: calls, and nested operation trees of usage
  contexts with metadata and calls at every node; run one with :func:`run_tree` and compare
  with :func:`expected_totals`.
* :func:`openai_usage`: usage payloads in OpenAI's wire shape for chat, responses and
  embeddings, consistent or (``malformed=True``) broken in the ways real payloads break.
* :func:`anthropic_usage`: usage payloads in Anthropic's wire shape (Messages API), with
  cache reads and writes (by TTL), server tool use and service tier, valid or malformed.
* :func:`usage_records`: valid :class:`aiusage_core.UsageRecord` values.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from decimal import Decimal
from types import MappingProxyType
from typing import Any, Literal

from hypothesis import strategies as st
from hypothesis.strategies import DrawFn, SearchStrategy

from aiusage_core import ConfigurationError, ErrorInfo, UsageRecord, UsageStatus
from aiusage_core._counts import COUNT_NAMES, COUNTS, PARTS
from aiusage_core._pricing import preload_prices

from ._trees import (
    CallSpec,
    Concurrency,
    ContextTree,
    TreeRun,
    arun_tree,
    expected_totals,
    run_tree,
)

# Tests drawn from these strategies record usage; load the price data before the first
# example so its one-off cost does not count against hypothesis' deadline.
preload_prices()

__all__ = [
    "CHAT_MODELS",
    "EMBEDDING_MODELS",
    "METADATA_KEYS",
    "NESTED_KEYS",
    "OPERATION_TYPES",
    "UNKNOWN_MODELS",
    "CallSpec",
    "Concurrency",
    "ContextTree",
    "OpenAIAPI",
    "TreeRun",
    "anthropic_usage",
    "arun_tree",
    "call_specs",
    "context_trees",
    "expected_totals",
    "metadata",
    "openai_usage",
    "run_tree",
    "usage_records",
]

METADATA_KEYS: tuple[str, ...] = (
    "job_id",
    "batch_id",
    "user_id",
    "team",
    "tags",
    "environment",
    "region",
    "customer_id",
    "tenant",
    "feature",
    "pipeline",
    "stage",
    "priority",
    "experiment",
    "labels",
    "retry",
    "source",
    "version",
)
"""Keys :func:`metadata` draws from. A small set on purpose: two drawn mappings share keys
often, so merges really override and recurse. None collides with a parameter of
``ai_usage_context`` (``operation_type``, ``sinks``)."""

OPERATION_TYPES: tuple[str, ...] = (
    "receipt_batch",
    "receipt",
    "ocr",
    "label",
    "embed",
    "classify",
    "summarise",
    "validate",
    "merchant_lookup",
    "retry",
)
"""Operation types :func:`context_trees` draws from (siblings may share one, as in life)."""

CHAT_MODELS: tuple[str, ...] = (
    "gpt-4o-mini",
    "gpt-4o",
    "gpt-4.1",
    "gpt-4.1-mini",
    "gpt-4.1-nano",
    "o3",
    "o3-mini",
    "o4-mini",
    "gpt-5",
    "gpt-5-mini",
    "gpt-5-nano",
)
"""OpenAI chat/responses models that genai-prices prices."""

EMBEDDING_MODELS: tuple[str, ...] = ("text-embedding-3-small", "text-embedding-3-large")
"""OpenAI embedding models that genai-prices prices."""

UNKNOWN_MODELS: tuple[str, ...] = ("acme-internal-llm", "ft:gpt-4o-mini:acme::receipts")
"""Model ids no price table knows: calls to them are recorded unpriced."""

_DEFAULT_MAX_TOKENS = 200_000


def _check_count(name: str, value: object, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigurationError(
            f"{name} must be an integer >= {minimum}, not {value!r}", name=name, value=value
        )
    return value


def _as_strategy(name: str, value: Sequence[str] | SearchStrategy[str]) -> SearchStrategy[str]:
    if isinstance(value, SearchStrategy):
        return value
    if isinstance(value, str) or not value:
        raise ConfigurationError(
            f"{name} must be a non-empty sequence of strings or a strategy, not {value!r}",
            name=name,
            value=value,
        )
    return st.sampled_from(tuple(value))


# -- metadata -----------------------------------------------------------------------------

_ID_PREFIXES = ("job", "batch", "user", "req", "cust", "run")

_ids = st.builds(
    lambda prefix, n: f"{prefix}-{n}", st.sampled_from(_ID_PREFIXES), st.integers(0, 99_999)
)
_json_scalars: SearchStrategy[Any] = st.one_of(
    st.none(),
    st.booleans(),
    # The range JSON numbers keep exactly in every parser (JavaScript's safe integers).
    st.integers(-(2**53), 2**53),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=16),
    _ids,
    st.sampled_from(("production", "staging", "ocr", "eu-west-1", "high", "v2")),
)


NESTED_KEYS: tuple[str, ...] = ("tags", "labels", "experiment", "source")
"""Keys that :func:`metadata` fills with nested mappings (by default, only with mappings)."""


def metadata(
    *,
    max_depth: int = 2,
    max_size: int = 5,
    keys: Sequence[str] | SearchStrategy[str] | None = None,
    consistent: bool = True,
) -> SearchStrategy[dict[str, Any]]:
    """JSON-compatible metadata mappings, as given to ``ai_usage_context(..., **metadata)``.

    Keys come from :data:`METADATA_KEYS` (or ``keys``); values are ``None``, booleans,
    integers, finite floats, strings, ids such as ``"job-42"``, lists of those, and (up to
    ``max_depth`` levels down) nested mappings of the same kind. ``max_size`` bounds the keys
    of each mapping. ``max_depth=0`` gives flat mappings.

    With ``consistent=True`` (the default) every key has one kind across all drawn
    mappings: the :data:`NESTED_KEYS` always hold mappings, the other keys never do. That is
    how real metadata looks, and it is the condition under which merging is associative (a
    plain value *between* two mappings under one key cannot be associative together with
    "inner keys win"; see docs/concepts.md). ``consistent=False`` mixes kinds freely.

    >>> from hypothesis import given
    >>> @given(metadata(max_depth=1))
    ... def test_contexts_keep_their_metadata(meta):
    ...     with ai_usage_context("job", **meta) as ctx:
    ...         assert set(meta) <= set(ctx.metadata)
    ... # doctest: +SKIP
    """
    _check_count("metadata(max_depth=...)", max_depth)
    _check_count("metadata(max_size=...)", max_size)
    values: SearchStrategy[Any] = _json_scalars | st.lists(_json_scalars, max_size=3)
    if not consistent:
        key = _as_strategy("metadata(keys=...)", METADATA_KEYS if keys is None else keys)
        level = st.dictionaries(key, values, max_size=max_size)
        for _ in range(max_depth):
            level = st.dictionaries(key, values | level, max_size=max_size)
        return level
    key = _as_strategy("metadata(keys=...)", METADATA_KEYS if keys is None else keys)
    plain_key = key.filter(lambda k: k not in NESTED_KEYS)
    level = st.dictionaries(plain_key, values, max_size=max_size)
    for _ in range(max_depth):
        level = st.builds(
            functools.partial(_union, max_size),
            st.dictionaries(st.sampled_from(NESTED_KEYS), level, max_size=min(2, max_size)),
            st.dictionaries(plain_key, values, max_size=max_size),
        )
    return level


def _union(max_size: int, nested: dict[str, Any], plain: dict[str, Any]) -> dict[str, Any]:
    merged = {**nested, **plain}
    return dict(list(merged.items())[:max_size])


_metadata = metadata  # for functions whose ``metadata`` parameter shadows the strategy


# -- calls and context trees --------------------------------------------------------------

_costs = st.decimals(min_value=0, max_value=10, places=8, allow_nan=False, allow_infinity=False)


def call_specs(
    *,
    models: Sequence[str] | SearchStrategy[str] | None = None,
    max_tokens: int = _DEFAULT_MAX_TOKENS,
) -> SearchStrategy[CallSpec]:
    """Calls to record with :meth:`CallSpec.record`: consistent token counts (cached ≤ input,
    reasoning ≤ output), mostly priced by aiusage, sometimes with a hand-given cost, sometimes
    failed, sometimes to an unpriced model (:data:`UNKNOWN_MODELS`).

    Embedding models (:data:`EMBEDDING_MODELS`) make ``api="embeddings"`` calls with no
    output tokens.

    >>> call_specs(models=["gpt-4o-mini"]).example()  # doctest: +SKIP
    CallSpec(model='gpt-4o-mini', input_tokens=812, output_tokens=33, ...)
    """
    _check_count("call_specs(max_tokens=...)", max_tokens)
    model = _as_strategy(
        "call_specs(models=...)",
        (*CHAT_MODELS, *EMBEDDING_MODELS, *UNKNOWN_MODELS) if models is None else models,
    )
    return _call_specs(model, max_tokens)


@st.composite
def _call_specs(draw: DrawFn, models: SearchStrategy[str], max_tokens: int) -> CallSpec:
    model = draw(models)
    input_tokens = draw(st.integers(0, max_tokens))
    cached = draw(st.integers(0, input_tokens))
    if model in EMBEDDING_MODELS:
        api, output_tokens, reasoning = "embeddings", 0, 0
    else:
        api = draw(st.sampled_from(("chat", "responses")))
        output_tokens = draw(st.integers(0, max_tokens))
        reasoning = draw(st.integers(0, output_tokens))
    given_cost = draw(st.integers(0, 3)) == 0
    failed = draw(st.integers(0, 7)) == 0
    return CallSpec(
        model=model,
        api=api,
        input_tokens=input_tokens,
        cached_input_tokens=cached,
        output_tokens=output_tokens,
        reasoning_tokens=reasoning,
        cost_usd=draw(_costs) if given_cost else None,
        error=draw(st.sampled_from(("rate limited", "timeout", "bad request"))) if failed else None,
    )


def context_trees(
    *,
    max_depth: int = 3,
    max_children: int = 2,
    max_calls: int = 2,
    operation_types: Sequence[str] | SearchStrategy[str] | None = None,
    metadata: SearchStrategy[dict[str, Any]] | None = None,
    calls: SearchStrategy[CallSpec] | None = None,
) -> SearchStrategy[ContextTree]:
    """Nested operation trees: a :class:`ContextTree` with metadata and up to ``max_calls``
    calls at each node and up to ``max_children`` children, ``max_depth`` levels deep.

    Run one with :func:`run_tree` (``concurrency="sequential"``, ``"asyncio"`` or
    ``"threads"``); every node's context must then report :func:`expected_totals`::

        @given(context_trees())
        def test_parents_count_their_childrens_calls(tree):
            run = run_tree(tree, concurrency="threads")
            for node in run.walk():
                assert node.context.totals == expected_totals(node.tree)

    ``metadata`` defaults to ``metadata(max_depth=1, max_size=2)`` and ``calls`` to
    :func:`call_specs`.
    """
    _check_count("context_trees(max_depth=...)", max_depth, minimum=1)
    _check_count("context_trees(max_children=...)", max_children)
    _check_count("context_trees(max_calls=...)", max_calls)
    ops = _as_strategy(
        "context_trees(operation_types=...)",
        OPERATION_TYPES if operation_types is None else operation_types,
    )
    meta = _metadata(max_depth=1, max_size=2) if metadata is None else metadata
    call = call_specs() if calls is None else calls
    own_calls = st.lists(call, max_size=max_calls).map(tuple)

    def level(depth: int) -> SearchStrategy[ContextTree]:
        children: SearchStrategy[tuple[ContextTree, ...]] = (
            st.just(())
            if depth >= max_depth
            else st.lists(level(depth + 1), max_size=max_children).map(tuple)
        )
        return st.builds(
            ContextTree, operation_type=ops, metadata=meta, calls=own_calls, children=children
        )

    return level(1)


# -- OpenAI usage payloads ----------------------------------------------------------------

OpenAIAPI = Literal["chat", "responses", "embeddings"]
"""The APIs :func:`openai_usage` makes payloads for."""


def _split(draw: DrawFn, total: int, names: Sequence[str]) -> dict[str, int]:
    """Counts for ``names`` that add up to at most ``total``, each key present or not."""
    parts: dict[str, int] = {}
    left = total
    for name in names:
        if draw(st.booleans()):
            parts[name] = draw(st.integers(0, left))
            left -= parts[name]
    return parts


def _add_details(
    draw: DrawFn, usage: dict[str, Any], key: str, total: int, *splits: Sequence[str]
) -> None:
    """Set ``usage[key]`` to a details object of ``total`` (each split's parts add up to at
    most ``total``), or to ``null``, or leave it out, as older models and gateways do."""
    shape = draw(st.sampled_from(("object", "object", "null", "absent")))
    if shape == "null":
        usage[key] = None
    elif shape == "object":
        details: dict[str, Any] = {}
        for split in splits:
            details.update(_split(draw, total, split))
        usage[key] = details


@st.composite
def _chat_usage(draw: DrawFn, max_tokens: int) -> dict[str, Any]:
    prompt = draw(st.integers(0, max_tokens))
    completion = draw(st.integers(0, max_tokens))
    usage: dict[str, Any] = {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }
    # Cache reads and writes are parts of the prompt; so, separately, are its modalities.
    _add_details(
        draw,
        usage,
        "prompt_tokens_details",
        prompt,
        ("cached_tokens", "cache_write_tokens"),
        ("text_tokens", "audio_tokens", "image_tokens"),
    )
    _add_details(
        draw,
        usage,
        "completion_tokens_details",
        completion,
        ("reasoning_tokens", "accepted_prediction_tokens", "rejected_prediction_tokens"),
        ("text_tokens", "audio_tokens"),
    )
    return usage


@st.composite
def _responses_usage(draw: DrawFn, max_tokens: int) -> dict[str, Any]:
    input_tokens = draw(st.integers(0, max_tokens))
    output_tokens = draw(st.integers(0, max_tokens))
    cached = draw(st.integers(0, input_tokens))
    cache_write = draw(st.integers(0, input_tokens - cached))
    input_details: dict[str, Any] = {"cached_tokens": cached, "cache_write_tokens": cache_write}
    retention = draw(st.sampled_from(("absent", "null", "object")))
    if retention == "null":
        input_details["cache_write_tokens_details"] = None
    elif retention == "object":
        ttl_12h = draw(st.integers(0, cache_write))
        input_details["cache_write_tokens_details"] = {
            "ttl_12h_tokens": ttl_12h,
            "ttl_30m_tokens": cache_write - ttl_12h,
        }
    return {
        "input_tokens": input_tokens,
        "input_tokens_details": input_details,
        "output_tokens": output_tokens,
        "output_tokens_details": {"reasoning_tokens": draw(st.integers(0, output_tokens))},
        "total_tokens": input_tokens + output_tokens,
    }


@st.composite
def _embeddings_usage(draw: DrawFn, max_tokens: int) -> dict[str, Any]:
    prompt = draw(st.integers(0, max_tokens))
    return {"prompt_tokens": prompt, "total_tokens": prompt}


_VALID_USAGE = {
    "chat": _chat_usage,
    "responses": _responses_usage,
    "embeddings": _embeddings_usage,
}


# -- Anthropic usage payloads ---------------------------------------------------------------

_ANTHROPIC_TIERS = ("standard", "priority", "batch")
"""The service tiers an Anthropic ``usage`` names."""


def _zero_or_absent(draw: DrawFn, usage: dict[str, Any], key: str, value: Any) -> None:
    """Set ``usage[key] = value``; a value of nothing (``0``, ``None``) may also be sent as
    ``null`` or left out, as older models and API versions do."""
    shape = draw(st.sampled_from(("value", "null", "absent"))) if not value else "value"
    if shape == "value":
        usage[key] = value
    elif shape == "null":
        usage[key] = None


@st.composite
def _anthropic_usage(draw: DrawFn, max_tokens: int) -> dict[str, Any]:
    # Anthropic's ``input_tokens`` *exclude* the cache reads and writes reported beside them:
    # the three together are the prompt, at most ``max_tokens``.
    prompt = draw(st.integers(0, max_tokens))
    cache_read = draw(st.integers(0, prompt))
    cache_write = draw(st.integers(0, prompt - cache_read))
    output = draw(st.integers(0, max_tokens))
    usage: dict[str, Any] = {
        "input_tokens": prompt - cache_read - cache_write,
        "output_tokens": output,
    }
    _zero_or_absent(draw, usage, "cache_read_input_tokens", cache_read)
    _zero_or_absent(draw, usage, "cache_creation_input_tokens", cache_write)
    # The writes by TTL add up to the writes; older responses have no breakdown at all.
    one_hour = draw(st.integers(0, cache_write))
    breakdown = {
        "ephemeral_5m_input_tokens": cache_write - one_hour,
        "ephemeral_1h_input_tokens": one_hour,
    }
    _zero_or_absent(draw, usage, "cache_creation", draw(st.sampled_from((breakdown, None))))
    searches = {
        "web_search_requests": draw(st.integers(0, 5)),
        "web_fetch_requests": draw(st.integers(0, 5)),
    }
    _zero_or_absent(draw, usage, "server_tool_use", draw(st.sampled_from((searches, None))))
    thinking = {"thinking_tokens": draw(st.integers(0, output))}
    _zero_or_absent(draw, usage, "output_tokens_details", draw(st.sampled_from((thinking, None))))
    tier = draw(st.sampled_from((*_ANTHROPIC_TIERS, None)))
    _zero_or_absent(draw, usage, "service_tier", tier)
    return usage


_garbage: SearchStrategy[Any] = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(max_value=-1),
    st.integers(min_value=2**63, max_value=2**80),  # past int64, still a float
    st.floats(),  # NaN and infinities included
    st.text(max_size=8),
    st.sampled_from(("12", "1e3", "", "null", "NaN", "-5")),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=6), st.integers() | st.none(), max_size=3),
)

_CORRUPTIONS = (
    "drop",  # a key is missing
    "null",  # a value is None
    "negative",
    "string",  # a count sent as a string
    "float",
    "garbage",  # anything at all in place of a value
    "extra",  # an unknown key, anywhere
    "inconsistent",  # parts larger than their whole, totals that do not add up
    "empty",  # {}
)


def _paths(payload: Mapping[str, Any], prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found: list[tuple[str, ...]] = []
    for key, value in payload.items():
        found.append((*prefix, key))
        if isinstance(value, dict):
            found.extend(_paths(value, (*prefix, key)))
    return found


def _containers(payload: dict[str, Any]) -> list[dict[str, Any]]:
    found = [payload]
    for value in payload.values():
        if isinstance(value, dict):
            found.extend(_containers(value))
    return found


def _parent(payload: dict[str, Any], path: tuple[str, ...]) -> dict[str, Any]:
    node = payload
    for key in path[:-1]:
        node = node[key]
    return node


def _corrupt(draw: DrawFn, payload: dict[str, Any], kind: str, parts: _Parts) -> dict[str, Any]:
    """Apply one corruption to ``payload`` (in place when it can) and return it."""
    if kind == "empty":
        return {}
    paths = _paths(payload)
    if kind == "extra" or not paths:
        target = draw(st.sampled_from(_containers(payload)))
        name = draw(
            st.sampled_from(("cost", "service_tier", "cached_tokens_v2", "x_debug")) | st.text()
        )
        target[name] = draw(_garbage | st.integers(0, 1000))
        return payload
    if kind == "inconsistent":
        return _inconsistent(draw, payload, parts)
    path = draw(st.sampled_from(paths))
    parent, key = _parent(payload, path), path[-1]
    current = parent[key]
    if kind == "drop":
        del parent[key]
    elif kind == "null":
        parent[key] = None
    elif kind == "negative":
        parent[key] = -draw(st.integers(1, 10**6))
    elif kind == "string":
        parent[key] = str(current) if isinstance(current, int) else draw(st.text(max_size=8))
    elif kind == "float":
        parent[key] = draw(
            st.floats() | st.just(float(current) + 0.5 if _is_count(current) else 0.5)
        )
    else:
        parent[key] = draw(_garbage)
    return payload


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


_Parts = tuple[tuple[str, str, str], ...]
"""``(whole, details object, part)``: counts of a payload whose part may not exceed them."""

_OPENAI_PARTS: _Parts = (
    ("prompt_tokens", "prompt_tokens_details", "cached_tokens"),
    ("completion_tokens", "completion_tokens_details", "reasoning_tokens"),
    ("input_tokens", "input_tokens_details", "cached_tokens"),
    ("output_tokens", "output_tokens_details", "reasoning_tokens"),
)
_ANTHROPIC_PARTS: _Parts = (
    ("cache_creation_input_tokens", "cache_creation", "ephemeral_1h_input_tokens"),
    ("cache_creation_input_tokens", "cache_creation", "ephemeral_5m_input_tokens"),
    ("output_tokens", "output_tokens_details", "thinking_tokens"),
)


def _inconsistent(draw: DrawFn, payload: dict[str, Any], parts: _Parts) -> dict[str, Any]:
    pairs = [
        (whole, (details, part)) for whole, details, part in parts if _is_count(payload.get(whole))
    ]
    break_a_part: bool = draw(st.booleans())
    if pairs and break_a_part:
        whole, (details, part) = draw(st.sampled_from(pairs))
        if not isinstance(payload.get(details), dict):
            payload[details] = {}
        payload[details][part] = payload[whole] + draw(st.integers(1, 10**6))
    else:
        total = payload.get("total_tokens")
        payload["total_tokens"] = (total if isinstance(total, int) else 0) + draw(
            st.integers(1, 10**6) | st.integers(-(10**6), -1)
        )
    return payload


@st.composite
def _malformed(
    draw: DrawFn, valid: SearchStrategy[dict[str, Any]], parts: _Parts = _OPENAI_PARTS
) -> dict[str, Any]:
    payload = copy.deepcopy(draw(valid))
    for kind in draw(st.lists(st.sampled_from(_CORRUPTIONS), min_size=1, max_size=3)):
        payload = _corrupt(draw, payload, kind, parts)
    return payload


def openai_usage(
    api: OpenAIAPI = "chat", *, malformed: bool = False, max_tokens: int = _DEFAULT_MAX_TOKENS
) -> SearchStrategy[dict[str, Any]]:
    """``usage`` objects as OpenAI sends them (the JSON, as a dict).

    * ``api="chat"``: ``prompt_tokens``, ``completion_tokens``, ``total_tokens``,
      ``prompt_tokens_details`` (``cached_tokens``, ``cache_write_tokens``, ``text_tokens``,
      ``audio_tokens``, ``image_tokens``) and ``completion_tokens_details``
      (``reasoning_tokens``, ``accepted_prediction_tokens``, ``rejected_prediction_tokens``,
      ``text_tokens``, ``audio_tokens``); each details object present, ``null`` or absent,
      and each of its keys present or not.
    * ``api="responses"``: ``input_tokens``, ``input_tokens_details`` (``cached_tokens``,
      ``cache_write_tokens``, and ``cache_write_tokens_details`` with ``ttl_12h_tokens`` and
      ``ttl_30m_tokens`` present, ``null`` or absent), ``output_tokens``,
      ``output_tokens_details.reasoning_tokens``, ``total_tokens``.
    * ``api="embeddings"``: ``prompt_tokens`` and ``total_tokens``.

    Valid payloads are the shapes the OpenAI SDK parses (``CompletionUsage``,
    ``ResponseUsage``, ``CreateEmbeddingResponse.Usage``) and are consistent: the parts of a
    count never exceed it (cache reads plus writes, and separately the modalities, of the
    input; reasoning plus prediction tokens, and the modalities, of the output) and
    ``total_tokens`` is the sum of input and output.

    With ``malformed=True`` each payload gets one to three corruptions: a missing key,
    ``None``, a negative number, a count sent as a string, a float (NaN and infinities too),
    nested garbage in place of a value or of a details object, unknown extra keys, parts
    larger than their whole, a wrong ``total_tokens``, or an empty object. The payload itself
    is always a dict.

    >>> from hypothesis import given
    >>> @given(openai_usage("responses", malformed=True))
    ... def test_extraction_never_raises(usage):
    ...     my_extract(usage)
    ... # doctest: +SKIP
    """
    if api not in _VALID_USAGE:
        raise ConfigurationError(
            f"openai_usage(api={api!r}): expected one of {', '.join(map(repr, _VALID_USAGE))}",
            name="api",
            value=api,
        )
    _check_count("openai_usage(max_tokens=...)", max_tokens)
    valid = _VALID_USAGE[api](max_tokens)
    return _malformed(valid) if malformed else valid


def anthropic_usage(
    *, malformed: bool = False, max_tokens: int = _DEFAULT_MAX_TOKENS
) -> SearchStrategy[dict[str, Any]]:
    """``usage`` objects as Anthropic's Messages API sends them (the JSON, as a dict).

    ``input_tokens`` and ``output_tokens``; ``cache_read_input_tokens`` and
    ``cache_creation_input_tokens``, which Anthropic reports *beside* ``input_tokens`` (not
    inside it, unlike OpenAI: the prompt is the sum of the three, at most ``max_tokens``);
    ``cache_creation`` (``ephemeral_5m_input_tokens`` and ``ephemeral_1h_input_tokens``,
    adding up to the cache writes); ``server_tool_use`` (``web_search_requests``,
    ``web_fetch_requests``); ``output_tokens_details.thinking_tokens`` (at most the output);
    ``service_tier`` (``standard``, ``priority``, ``batch``). A count of zero and an object
    of nothing may be sent, ``null`` or left out, as older models and API versions do.

    Valid payloads are the shape the ``anthropic`` SDK parses (``anthropic.types.Usage``).
    With ``malformed=True`` each payload gets one to three of the corruptions of
    :func:`openai_usage` (a part larger than its whole is a one-hour or five-minute cache
    write above the cache writes, or thinking above the output).

    >>> from hypothesis import given
    >>> @given(anthropic_usage())
    ... def test_prompt_tokens(usage):
    ...     assert my_prompt_tokens(usage) >= usage["input_tokens"]
    ... # doctest: +SKIP
    """
    _check_count("anthropic_usage(max_tokens=...)", max_tokens)
    valid = _anthropic_usage(max_tokens)
    return _malformed(valid, _ANTHROPIC_PARTS) if malformed else valid


# -- usage records ------------------------------------------------------------------------


def _freeze(value: Any) -> Any:
    # Records hold read-only metadata (mappings as MappingProxyType, lists as tuples), like
    # the ones aiusage makes.
    if isinstance(value, Mapping):
        return MappingProxyType({k: _freeze(v) for k, v in value.items()})
    if isinstance(value, list | tuple):
        return tuple(_freeze(v) for v in value)
    return value


_timestamps = st.datetimes(
    min_value=datetime(2023, 1, 1),
    max_value=datetime(2035, 12, 31),
    timezones=st.just(timezone.utc),
)
_errors = st.builds(
    ErrorInfo,
    type=st.sampled_from(("RateLimitError", "APITimeoutError", "BadRequestError", "Error")),
    message=st.text(max_size=40),
)


def usage_records(
    *,
    models: Sequence[str] | SearchStrategy[str] | None = None,
    metadata: SearchStrategy[dict[str, Any]] | None = None,
    max_tokens: int = _DEFAULT_MAX_TOKENS,
) -> SearchStrategy[UsageRecord]:
    """Valid :class:`aiusage_core.UsageRecord` values, as sinks and exporters receive them.

    Counts are consistent (cached and cache-write ≤ input, reasoning ≤ output, embeddings
    have no output); ``cost_usd`` is a non-negative ``Decimal`` or ``None``; a
    ``usage_status="missing"`` record has no tokens and no cost; metadata (default
    ``metadata(max_depth=1, max_size=3)``) is read-only, as on records aiusage makes;
    timestamps are UTC.

    >>> from hypothesis import given
    >>> @given(st.lists(usage_records(), unique_by=lambda r: r.record_id))
    ... def test_my_sink_stores_every_record(records):
    ...     sink = MySink()
    ...     sink.write(records)
    ...     assert sink.count() == len(records)
    ... # doctest: +SKIP
    """
    _check_count("usage_records(max_tokens=...)", max_tokens)
    model = _as_strategy(
        "usage_records(models=...)",
        (*CHAT_MODELS, *EMBEDDING_MODELS, *UNKNOWN_MODELS) if models is None else models,
    )
    meta = _metadata(max_depth=1, max_size=2) if metadata is None else metadata
    return _usage_records(model, meta, max_tokens)


@st.composite
def _counts(draw: DrawFn, max_tokens: int, *, outputs: bool = True) -> dict[str, int]:
    """Consistent counts of the whole vocabulary: each count split among its parts (parts of
    one count add up to at most it); no output counts unless ``outputs``."""
    counts = dict.fromkeys(COUNT_NAMES, 0)
    for count in COUNTS:
        if count.part_of is not None:
            continue  # drawn by _split, below, when its enclosing count is drawn
        if count.name == "output_tokens" and not outputs:
            continue
        # Tokens up to max_tokens; other top-level counts (web searches) are a few requests.
        limit = max_tokens if count.name.endswith("_tokens") else min(max_tokens, 5)
        counts[count.name] = draw(st.integers(0, limit))
    for name in COUNT_NAMES:  # enclosing counts come first, so they are drawn already
        if PARTS[name]:
            counts.update(_split(draw, counts[name], PARTS[name]))
    return counts


@st.composite
def _usage_records(
    draw: DrawFn,
    models: SearchStrategy[str],
    metadata: SearchStrategy[dict[str, Any]],
    max_tokens: int,
) -> UsageRecord:
    model = draw(models)
    api = (
        "embeddings" if model in EMBEDDING_MODELS else draw(st.sampled_from(("chat", "responses")))
    )
    status: UsageStatus = draw(st.sampled_from(("reported", "reported", "manual", "missing")))
    counts = dict.fromkeys(COUNT_NAMES, 0)
    cost: Decimal | None = None
    if status != "missing":
        counts.update(draw(_counts(max_tokens, outputs=api != "embeddings")))
        cost = draw(st.none() | _costs)
    return UsageRecord(
        model=model,
        provider="openai",
        api=api,
        **counts,
        cost_usd=cost,
        metadata=_freeze(draw(metadata)),
        context_path=tuple(draw(st.lists(st.sampled_from(OPERATION_TYPES), max_size=3))),
        error=draw(st.none() | _errors),
        latency_ms=draw(st.none() | st.floats(0, 600_000, allow_nan=False)),
        usage_status=status,
        batch=draw(st.booleans()),
        service_tier=draw(st.none() | st.sampled_from(("default", "flex", "priority", "scale"))),
        request_id=draw(st.none() | st.uuids().map(lambda u: f"req_{u.hex}")),
        timestamp=draw(_timestamps),
        record_id=draw(st.uuids()).hex,
    )
