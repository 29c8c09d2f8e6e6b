"""Token counts out of OpenAI responses: SDK objects, plain dicts and stream chunks alike.

Extraction never raises and never makes a count up. The rules for malformed usage:

* The *core* counts (chat and embeddings ``prompt_tokens``; chat ``completion_tokens``;
  Responses ``input_tokens`` and ``output_tokens``) must be non-negative ``int``\\s (not
  ``bool``). If one is absent, ``None``, negative or of another type, the usage is
  ``missing``: every count is 0 and the record gets ``cost_usd=None``, never a guessed cost.
* A *detail* count (cached, cache-write, reasoning, audio tokens) that is absent or ``None``
  is 0, as OpenAI means it. One that is negative or not an ``int`` is 0 and logged; the usage
  stays ``reported`` because the core counts, which carry most of the cost, are sound.
* Details larger than the count that includes them (``cached_tokens > prompt_tokens``,
  ``reasoning_tokens > completion_tokens``, ...) are clamped to it and logged, so
  ``cached_input_tokens <= input_tokens`` and ``reasoning_tokens <= output_tokens`` always hold.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from .._counts import MISSING, Usage
from .._providers import Read
from .._providers._reading import (
    MODEL as _MODEL,
)
from .._providers._reading import (
    clamp as _clamp,
)
from .._providers._reading import (
    core as _core,
)
from .._providers._reading import (
    detail as _detail,
)
from .._providers._reading import (
    field,
)
from .._providers._reading import (
    kinds as _kinds,
)
from .._providers._reading import (
    values as _values,
)

__all__ = [
    "MISSING",
    "Extracted",
    "Usage",
    "extract",
    "extract_usage",
    "field",
]

logger = logging.getLogger("aiusage")


Extracted = Read
"""What a response object says about its call (the adapters' :class:`Read`)."""


_NO_DETAILS: Mapping[str, object] = {}

# A NamedTuple's __new__ is a Python function; tuple.__new__ makes the same tuple in C.
_new_tuple = tuple.__new__


# Field names in each API's usage object: input, output, input details, output details.
_CHAT = (
    "prompt_tokens",
    "completion_tokens",
    "prompt_tokens_details",
    "completion_tokens_details",
)
_RESPONSES = (
    "input_tokens",
    "output_tokens",
    "input_tokens_details",
    "output_tokens_details",
)


def extract_usage(api: str, usage: object) -> Usage:
    """Validate the ``usage`` object of a ``chat``, ``embeddings`` or ``responses`` call.

    Never raises (see the module docstring for the rules).
    """
    if usage is None:
        return MISSING
    try:
        return _extract_usage(api, usage)
    except Exception:  # a mapping or property that raises: nothing trustworthy to read
        logger.exception("aiusage: reading the usage of an OpenAI %s response failed", api)
        return MISSING


def _extract_usage(api: str, usage: object) -> Usage:
    names = _RESPONSES if api == "responses" else _CHAT
    values = _values(usage)
    input_tokens = _core(values.get(names[0]))
    output_tokens = 0 if api == "embeddings" else _core(values.get(names[1]))
    if input_tokens is None or output_tokens is None:
        logger.warning(
            "aiusage: OpenAI %s response carried unusable usage %.200r; the call is recorded "
            "with usage_status='missing' and no cost",
            api,
            usage,
        )
        return MISSING
    if api == "embeddings":
        return Usage("reported", input_tokens=input_tokens)
    problems: list[str] = []
    in_details = values.get(names[2])
    out_details = values.get(names[3])
    ins = _NO_DETAILS if in_details is None else _values(in_details)
    outs = _NO_DETAILS if out_details is None else _values(out_details)
    cached = _detail(ins.get("cached_tokens"), "cached_tokens", problems)
    cache_write = _detail(ins.get("cache_write_tokens"), "cache_write_tokens", problems)
    reasoning = _detail(outs.get("reasoning_tokens"), "reasoning_tokens", problems)
    input_audio = output_audio = 0
    if api == "chat":
        input_audio = _detail(ins.get("audio_tokens"), "audio_tokens", problems)
        output_audio = _detail(outs.get("audio_tokens"), "audio_tokens", problems)
    if (
        cached + cache_write > input_tokens
        or input_audio > input_tokens
        or max(reasoning, output_audio) > output_tokens
    ):
        cached = _clamp("cached_tokens", cached, input_tokens, names[0], problems)
        cache_write = _clamp(
            "cache_write_tokens", cache_write, input_tokens - cached, "uncached input", problems
        )
        reasoning = _clamp("reasoning_tokens", reasoning, output_tokens, names[1], problems)
        input_audio = _clamp("input audio_tokens", input_audio, input_tokens, names[0], problems)
        output_audio = _clamp(
            "output audio_tokens", output_audio, output_tokens, names[1], problems
        )
    if problems:
        logger.warning(
            "aiusage: OpenAI %s usage had malformed details: %s", api, "; ".join(problems)
        )
    # In the order of the vocabulary (aiusage_core._counts.COUNTS); OpenAI has no 1h cache
    # writes and reports no web searches in usage.
    return Usage(
        "reported",
        input_tokens,
        output_tokens,
        cached,
        cache_write,
        0,
        reasoning,
        input_audio,
        output_audio,
        0,
    )


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def extract(api: str, response: object) -> Read:
    """Usage, model, service tier (and a Responses error) of a whole response object.

    Never raises.
    """
    found = _extract_plain(api, response)
    return found if found is not None else _extract_any(api, response)


def _extract_plain(api: str, response: object) -> Extracted | None:
    """:func:`extract` of the usual SDK response, in one frame; ``None`` for anything else.

    Usual: a pydantic response (with pydantic usage and details, or none) whose counts are
    non-negative ``int``\\s (absent details count 0), consistent with one another, with a
    non-empty ``model`` and no Responses ``error``. Anything else (including all that would
    be logged) goes to :func:`_extract_any`, which gives the same result for usual
    responses (``tests/properties/test_extraction_laws.py`` compares the two). One frame
    matters: this runs right after the SDK's own work, when every function it calls is out
    of the CPU caches (measured: 4 us less per call than :func:`_extract_any`).
    """
    kinds = _kinds
    if kinds.get(type(response)) != _MODEL:
        return None
    values = response.__dict__
    usage = values.get("usage")
    model = values.get("model")
    tier = values.get("service_tier")
    if (
        usage is None
        or kinds.get(type(usage)) != _MODEL
        or type(model) is not str
        or not model
        or not (tier is None or type(tier) is str)
    ):
        return None
    counts = usage.__dict__
    if api == "embeddings":
        inputs = counts.get("prompt_tokens")
        if type(inputs) is not int or inputs < 0:
            return None
        found = ("reported", inputs, 0, 0, 0, 0, 0, 0, 0, 0)
    else:
        if api == "responses":
            if values.get("error") is not None:
                return None
            names = _RESPONSES
        else:
            names = _CHAT
        inputs = counts.get(names[0])
        outputs = counts.get(names[1])
        if type(inputs) is not int or type(outputs) is not int or inputs < 0 or outputs < 0:
            return None
        in_details = counts.get(names[2])
        out_details = counts.get(names[3])
        cached: Any = None
        cache_write: Any = None
        reasoning: Any = None
        input_audio: Any = None
        output_audio: Any = None
        if in_details is not None:
            if kinds.get(type(in_details)) != _MODEL:
                return None
            details = in_details.__dict__
            cached = details.get("cached_tokens")
            cache_write = details.get("cache_write_tokens")
            if api == "chat":
                input_audio = details.get("audio_tokens")
        if out_details is not None:
            if kinds.get(type(out_details)) != _MODEL:
                return None
            details = out_details.__dict__
            reasoning = details.get("reasoning_tokens")
            if api == "chat":
                output_audio = details.get("audio_tokens")
        # An absent detail is 0; a present one must be a plain int (else: _extract_any).
        if cached is None:
            cached = 0
        if cache_write is None:
            cache_write = 0
        if reasoning is None:
            reasoning = 0
        if input_audio is None:
            input_audio = 0
        if output_audio is None:
            output_audio = 0
        if not (
            type(cached) is int
            and type(cache_write) is int
            and type(reasoning) is int
            and type(input_audio) is int
            and type(output_audio) is int
            and cached >= 0
            and cache_write >= 0
            and cached + cache_write <= inputs
            and 0 <= input_audio <= inputs
            and 0 <= reasoning <= outputs
            and 0 <= output_audio <= outputs
        ):
            return None
        found = (  # the order of Usage (see _extract_usage)
            "reported",
            inputs,
            outputs,
            cached,
            cache_write,
            0,
            reasoning,
            input_audio,
            output_audio,
            0,
        )
    return _new_tuple(Extracted, (_new_tuple(Usage, found), model, tier or None, None))


def _extract_any(api: str, response: object) -> Extracted:
    """:func:`extract` of any response: mappings, objects, malformed usage (logged)."""
    try:
        values = _values(response)
        usage, model, tier = values.get("usage"), values.get("model"), values.get("service_tier")
        failure = values.get("error") if api == "responses" else None
    except Exception:
        logger.exception("aiusage: reading an OpenAI %s response failed", api)
        return Extracted(MISSING, None, None)
    error: str | None = None
    if failure is not None:
        error = _text(field(failure, "message")) or "the response failed"
    return Extracted(extract_usage(api, usage), _text(model), _text(tier), error)
