"""The worst case of an Anthropic Messages request, read from its body before it is sent.

Input: the body's text bounds its tokens (see :mod:`aiusage_core._estimate`), except for
content the body only refers to or that the API adds: image and document parts, MCP
servers, a container, and server tools (web search and fetch, code execution, ...), whose
results become input. Output: ``max_tokens``, which the API requires, so the output side of
the worst case is exact (thinking budgets are part of it).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .._estimate import (
    CallEstimate,
    referred_content,
    request_text,
    text_token_bound,
    tool_results,
)

__all__ = ["estimate_request"]

_MEDIA = (("'image'", "an image part"), ("'document'", "a document part"))
_REFERENCES = ("mcp_servers", "container")
_PLAIN_TOOLS = frozenset({None, "custom"})  # tools the caller runs: no "type", or "custom"
_DEFAULT_TIERS = frozenset({"auto", "standard_only"})


def _unbounded_input(body: Mapping[str, Any], text: str) -> str | None:
    for marker, name in _MEDIA:
        if marker in text:
            return name
    return referred_content(body, _REFERENCES) or tool_results(body, _PLAIN_TOOLS, "server tool")


def estimate_request(
    provider: str, model: str, body: object, extra: Mapping[str, Any] | None
) -> CallEstimate:
    """The worst case of a Messages request whose JSON body is ``body`` (the SDK's
    ``json_data``, without the parameters not given) with ``extra`` (its ``extra_json``)
    merged in, as the SDK sends it."""
    if type(body) is not dict and not isinstance(body, Mapping):
        return CallEstimate(
            provider, model, "messages", 0, None, 1, "a body that is not a JSON object"
        )
    if extra:
        body = {**body, **extra}
    text = request_text(body)
    cap = body.get("max_tokens")
    tier = body.get("service_tier")
    # Most requests have no media, references or tools: one look each before the details.
    unbounded = (
        _unbounded_input(body, text)
        if "tools" in body
        or "mcp_servers" in body
        or "container" in body
        or "'image'" in text
        or "'document'" in text
        else None
    )
    return CallEstimate(
        provider,
        model,
        "messages",
        text_token_bound(text),
        cap if type(cap) is int and cap >= 0 else None,
        1,
        unbounded,
        tier if isinstance(tier, str) and tier and tier not in _DEFAULT_TIERS else None,
    )
