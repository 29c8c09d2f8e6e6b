"""The worst case of a call, known from its request before it is sent (provider-neutral).

A provider adapter describes each request as a :class:`CallEstimate`: an upper bound of its
input tokens, the output cap it sets, and whatever makes its input unbounded. Budgets price
the estimate and reserve it (:mod:`._reservations`).

The input bound: no tokenizer is available offline, so the input is bounded by the request's
text. Every tokenizer the providers use is a byte-level BPE (OpenAI's ``cl100k_base`` and
``o200k_base``, Anthropic's): each token stands for at least one byte of the text it encodes,
so a text of ``n`` UTF-8 bytes is at most ``n`` tokens. The chat format's own tokens (a few
per message, a few to prime the reply, the rendering of tool definitions) are fewer than the
syntax bytes (quotes, braces, separators, keys) around the same parts of the request, so the
UTF-8 length of the request body written out as text bounds its input tokens. The body is
written with ``repr`` (one call into C, a tenth of what ``json.dumps`` costs): every string
appears in it whole, quoted, with non-printable characters escaped (longer, never shorter).
That holds for text only: an image, a file,
audio given by reference, a previous response or a hosted tool's results add tokens the body
does not hold, and the adapter reports them as :attr:`CallEstimate.unbounded_input`.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["CallEstimate", "referred_content", "request_text", "text_token_bound", "tool_results"]


def request_text(body: object) -> str:
    """``body`` written out as text (its ``repr``: non-ASCII kept as is)."""
    return repr(body)


def text_token_bound(text: str) -> int:
    """An upper bound of the input tokens of a request whose body is written out as
    ``text`` (see :func:`request_text`; text only): its length in UTF-8 bytes."""
    if text.isascii():
        return len(text)
    return len(text.encode("utf-8", "surrogatepass"))


def referred_content(body: Mapping[str, Any], keys: Sequence[str]) -> str | None:
    """Why ``body``'s input is unbounded when one of ``keys`` (content the request only
    refers to: a previous response, a container, ...) is given in it, or ``None``."""
    for key in keys:
        if body.get(key):
            return f"content referred to by {key!r}"
    return None


def tool_results(
    body: Mapping[str, Any], plain: Collection[str | None], kind_of_tool: str
) -> str | None:
    """Why ``body``'s input is unbounded when its ``tools`` hold one whose ``type`` is not
    in ``plain`` (a tool the provider runs, whose results become input), or ``None``.
    ``kind_of_tool`` names such tools in the reason (``"hosted tool"``, ``"server tool"``)."""
    tools = body.get("tools")
    if isinstance(tools, list):
        for tool in tools:
            kind = tool.get("type") if isinstance(tool, Mapping) else None
            if kind not in plain:
                return f"the results of the {kind_of_tool} {kind!r}"
    return None


@dataclass(slots=True)
class CallEstimate:
    """What a request says about the most its call can use, before it is sent (made once
    per call under a budget: not frozen, whose checks would cost more than the rest)."""

    provider: str
    """The provider, as genai-prices names it (``openai``, ``azure``, ``anthropic``, ...)."""
    model: str
    """The requested model."""
    api: str
    """The API called (``chat``, ``embeddings``, ``responses``, ``messages``, ...)."""
    input_tokens: int
    """An upper bound of the input tokens held in the request (see the module docstring)."""
    output_tokens: int | None
    """The output cap of one choice (``max_tokens``, ``max_output_tokens``,
    ``max_completion_tokens``); ``0`` for an API without output; ``None`` when the request
    sets none."""
    choices: int = 1
    """How many choices the request asks for (chat's ``n``); each may use the output cap."""
    unbounded_input: str | None = None
    """Why the request's text does not bound its input (``"an image part"``,
    ``"previous_response_id"``), or ``None`` when it does."""
    service_tier: str | None = None
    """The service tier the request asks for, if any."""

    def describe(self) -> str:
        """``openai chat call to gpt-4o-mini (max_tokens 100)``: the call, for messages."""
        if self.output_tokens is None:
            cap = "no output cap"
        elif self.output_tokens == 0 and self.api == "embeddings":
            cap = "no output"
        else:
            cap = f"output cap {self.output_tokens:,}"
            if self.choices > 1:
                cap += f" x {self.choices} choices"
        return f"{self.provider} {self.api} call to {self.model} ({cap})"
