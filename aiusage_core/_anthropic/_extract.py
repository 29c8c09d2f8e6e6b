"""Token counts out of Anthropic messages, normalised to the vocabulary (imports no SDK).

Anthropic reports the input apart from the cache: ``input_tokens`` counts only the tokens
after the last cache breakpoint, and ``cache_read_input_tokens`` /
``cache_creation_input_tokens`` sit beside it. The vocabulary's ``input_tokens`` includes
both (:mod:`aiusage_core._counts`), so::

    input_tokens          = input_tokens + cache_read_input_tokens + cache_creation_input_tokens
    cached_input_tokens   = cache_read_input_tokens
    cache_write_tokens    = cache_creation_input_tokens
    cache_write_1h_tokens = cache_creation.ephemeral_1h_input_tokens (the rest is 5-minute)
    output_tokens         = output_tokens
    reasoning_tokens      = output_tokens_details.thinking_tokens
    web_search_requests   = server_tool_use.web_search_requests

The rules for malformed usage are OpenAI's (:mod:`aiusage_core._openai._extract`): the core
counts (``input_tokens``, ``output_tokens``) must be non-negative ints or the usage is
``missing``; a malformed detail is 0 and logged; a part larger than its whole is clamped.
"""

from __future__ import annotations

import logging
from typing import Any

from .._counts import MISSING, Usage
from .._providers import Read
from .._providers._reading import MODEL, clamp, core, detail, field, kinds, values

__all__ = ["StreamedMessage", "extract", "normalise"]

logger = logging.getLogger("aiusage")

_new_tuple = tuple.__new__


def normalise(usage: object) -> Usage:
    """The vocabulary's counts of Anthropic's ``usage`` (a model, a mapping or an object).

    Never raises.
    """
    if usage is None:
        return MISSING
    try:
        return _normalise(usage)
    except Exception:  # a mapping or property that raises: nothing trustworthy to read
        logger.exception("aiusage: reading the usage of an Anthropic message failed")
        return MISSING


def _normalise(usage: object) -> Usage:
    counts = values(usage)
    fresh = core(counts.get("input_tokens"))
    output = core(counts.get("output_tokens"))
    if fresh is None or output is None:
        logger.warning(
            "aiusage: Anthropic message carried unusable usage %.200r; the call is recorded "
            "with usage_status='missing' and no cost",
            usage,
        )
        return MISSING
    problems: list[str] = []
    read = detail(counts.get("cache_read_input_tokens"), "cache_read_input_tokens", problems)
    write = detail(
        counts.get("cache_creation_input_tokens"), "cache_creation_input_tokens", problems
    )
    by_ttl = counts.get("cache_creation")
    write_1h = (
        0
        if by_ttl is None
        else detail(field(by_ttl, "ephemeral_1h_input_tokens"), "ephemeral_1h", problems)
    )
    details = counts.get("output_tokens_details")
    reasoning = (
        0 if details is None else detail(field(details, "thinking_tokens"), "thinking", problems)
    )
    tools = counts.get("server_tool_use")
    searches = (
        0
        if tools is None
        else detail(field(tools, "web_search_requests"), "web_search_requests", problems)
    )
    if write_1h > write or reasoning > output:
        write_1h = clamp("ephemeral_1h_input_tokens", write_1h, write, "cache writes", problems)
        reasoning = clamp("thinking_tokens", reasoning, output, "output_tokens", problems)
    if problems:
        logger.warning("aiusage: Anthropic usage had malformed details: %s", "; ".join(problems))
    # In the order of the vocabulary (aiusage_core._counts.COUNTS); no audio on Anthropic.
    total = fresh + read + write
    return _new_tuple(
        Usage, ("reported", total, output, read, write, write_1h, reasoning, 0, 0, searches)
    )


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


_USAGE_FIELDS = (
    "input_tokens",
    "cache_read_input_tokens",
    "cache_creation_input_tokens",
    "cache_creation",
    "output_tokens",
    "output_tokens_details",
    "server_tool_use",
    "service_tier",
)


def _present(usage: object) -> dict[str, object]:
    """The usage fields ``usage`` holds (not ``None``)."""
    found = values(usage)
    return {name: value for name in _USAGE_FIELDS if (value := found.get(name)) is not None}


class StreamedMessage:
    """What a stream's ``message_start`` and ``message_delta`` events said about its call.

    ``message_delta`` counts are cumulative: each one present replaces the count gathered
    so far (it is never added). Until a ``message_delta`` arrives the output is unknown,
    so the usage is ``missing`` (the model and tier are known from ``message_start``).
    """

    __slots__ = ("complete", "model", "usage")

    def __init__(self, message: Any) -> None:
        self.model = _text(field(message, "model"))
        usage = field(message, "usage")
        self.usage = {} if usage is None else _present(usage)
        self.complete = False

    def update(self, usage: object) -> None:
        """Take the counts of a ``message_delta`` event's ``usage``."""
        if usage is not None:
            self.usage.update(_present(usage))
        self.complete = True


def extract(response: object) -> Read:
    """Usage, model and service tier of a ``Message`` (SDK object or its JSON), or of what
    a stream gathered (:class:`StreamedMessage`). Never raises."""
    try:
        if type(response) is StreamedMessage:
            usage = normalise(response.usage) if response.complete else MISSING
            return Read(usage, response.model, _text(response.usage.get("service_tier")))
        fields = response.__dict__ if kinds.get(type(response)) == MODEL else values(response)
        usage_object = fields.get("usage")
        tier = None if usage_object is None else _text(field(usage_object, "service_tier"))
        return _new_tuple(Read, (normalise(usage_object), _text(fields.get("model")), tier, None))
    except Exception:
        logger.exception("aiusage: reading an Anthropic message failed")
        return Read(MISSING, None, None)
