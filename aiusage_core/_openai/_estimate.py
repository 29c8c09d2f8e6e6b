"""The worst case of an OpenAI request, read from its body before it is sent (for budgets).

Input: the body's text bounds its tokens (see :mod:`aiusage_core._estimate`), except for
content the body only refers to or that the API adds: image, file and audio parts, a previous
response or conversation, a stored prompt, hosted tools (web and file search, code
interpreter, ...) and chat's web search. Output: ``max_completion_tokens`` / ``max_tokens``
(times ``n``) for chat, ``max_tokens`` times ``best_of`` (or ``n``) for legacy completions,
``max_output_tokens`` for responses, nothing for embeddings; a compaction's output is not
bounded by its request.
"""

from __future__ import annotations

import re
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

# Keys and values of media parts, quoted as ``repr`` writes them: finding one in the body's
# text means the body may have such a part (a user text quoting one of these words makes the
# estimate more cautious, never less).
_MEDIA = re.compile(
    r"'(image_url|input_image|input_file|file_id|file_data|input_audio)'|'type': 'file'"
)
_MEDIA_NAMES = {
    "image_url": "an image part",
    "input_image": "an image part",
    "input_audio": "an audio part",
}
_RESPONSE_REFERENCES = ("previous_response_id", "conversation", "prompt")
_PLAIN_TOOLS = frozenset({"function", "custom"})


def _cap(value: object) -> int | None:
    return value if type(value) is int and value >= 0 else None


def _unbounded_input(api: str, body: Mapping[str, Any], text: str) -> str | None:
    # Substring tests first (every marker names an image, a file or audio): most bodies
    # have none of these words, and the regular expression costs more than all three.
    if "image" in text or "file" in text or "audio" in text:
        found = _MEDIA.search(text)
        if found is not None:
            return _MEDIA_NAMES.get(found.group(1) or "", "a file part")
    if api == "chat" and body.get("web_search_options") is not None:
        return "web search results (web_search_options)"
    if api == "responses":
        return referred_content(body, _RESPONSE_REFERENCES) or tool_results(
            body, _PLAIN_TOOLS, "hosted tool"
        )
    return None


def estimate_request(
    api: str,
    provider: str,
    model: str,
    body: object,
    extra: Mapping[str, Any] | None,
) -> CallEstimate:
    """The worst case of a request to ``api`` whose JSON body is ``body`` (the SDK's
    ``json_data``) with ``extra`` (its ``extra_json``) merged in, as the SDK sends it."""
    if type(body) is not dict and not isinstance(body, Mapping):
        return CallEstimate(provider, model, api, 0, None, 1, "a body that is not a JSON object")
    if extra:
        body = {**body, **extra}
    text = request_text(body)
    # A compaction reads its input as a response does (and bounds no output).
    kind = "responses" if api == "responses.compact" else api
    output: int | None
    choices = 1
    if kind == "embeddings":
        output = 0
    elif kind == "responses":
        output = _cap(body.get("max_output_tokens"))
    else:
        output = _cap(body.get("max_completion_tokens"))
        legacy = _cap(body.get("max_tokens"))
        if legacy is not None and (output is None or legacy > output):
            output = legacy
        n = body.get("n")
        if type(n) is int and n > 1:
            choices = n
        # Legacy completions generate best_of candidates server-side, all billed.
        best_of = body.get("best_of") if kind == "completions" else None
        if type(best_of) is int and best_of > choices:
            choices = best_of
    tier = body.get("service_tier")
    return CallEstimate(
        provider,
        model,
        api,
        text_token_bound(text),
        output,
        choices,
        _unbounded_input(kind, body, text),
        tier if isinstance(tier, str) and tier else None,
    )
