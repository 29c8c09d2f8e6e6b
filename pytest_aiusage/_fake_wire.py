"""What the fake server's two wire formats share (OpenAI's and Anthropic's): the scripted
reply, deterministic ids, token counting, echoing, and JSON / SSE encoding (private)."""

from __future__ import annotations

import enum
import hashlib
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

__all__ = [
    "NO_USAGE",
    "UNSCRIPTED",
    "Ids",
    "NoUsage",
    "Script",
    "count_tokens",
    "default_content",
    "dumps",
    "parse_json",
    "pieces",
    "prompt_tokens",
    "sse_data",
    "sse_event",
    "texts",
]


class NoUsage(enum.Enum):
    """Type of :data:`NO_USAGE`; a one-member enum so that mypy can narrow on it."""

    NO_USAGE = "NO_USAGE"


NO_USAGE: Final = NoUsage.NO_USAGE
"""Pass as ``reply(usage=NO_USAGE)`` to send a response with no ``usage`` key at all (and, in
a chat stream, no usage chunk even when the client asked for one)."""

_TOKEN_PATTERN: Final = re.compile(r"\w+|[^\w\s]")
_MESSAGE_OVERHEAD: Final = 3
_REPLY_PRIMING: Final = 3
_DEFAULT_REPLY: Final = "Hello from FakeOpenAI."
_ECHO_LIMIT: Final = 80


def count_tokens(text: str) -> int:
    """Count tokens the way the fake server does: each run of word characters is one token,
    and so is each other non-space character.

    It is deterministic and roughly tiktoken-sized for English, which is all tests need::

        >>> count_tokens("Hello, world!")
        4
    """
    return len(_TOKEN_PATTERN.findall(text))


@dataclass(frozen=True, kw_only=True)
class Script:
    """What :meth:`FakeOpenAI.reply` queued; the defaults describe an unscripted request."""

    content: str | None = None
    model: str | None = None
    usage: Mapping[str, Any] | NoUsage | None = None
    service_tier: str | None = None
    status: int = 200
    error: Mapping[str, Any] | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    delay: float = 0.0
    include_usage_in_stream: bool | None = None
    drop_connection: bool = False


UNSCRIPTED: Final = Script()


class Ids:
    """Deterministic identifiers for one request."""

    def __init__(self, seed: bytes) -> None:
        self._seed = seed

    def hex(self, label: str, length: int) -> str:
        """``length`` hex digits derived from the request and ``label``."""
        digest = hashlib.sha256(self._seed + label.encode()).hexdigest()
        while len(digest) < length:
            digest += hashlib.sha256(digest.encode()).hexdigest()
        return digest[:length]


def dumps(payload: object) -> bytes:
    """Compact JSON, as servers send it."""
    text = json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
    try:
        return text.encode()
    except UnicodeEncodeError:  # scripted lone surrogates: sent as JSON escapes, as servers do
        return json.dumps(payload, separators=(",", ":")).encode()


def sse_data(payload: object) -> bytes:
    """One SSE message with a ``data:`` line only."""
    return b"data: " + dumps(payload) + b"\n\n"


def sse_event(payload: Mapping[str, Any]) -> bytes:
    """One SSE message whose ``event:`` line is the payload's ``type``."""
    return f"event: {payload['type']}\n".encode() + sse_data(payload)


def parse_json(body: bytes) -> Any:
    """``body`` parsed as JSON, or ``None`` when it is empty or not JSON."""
    if not body:
        return None
    try:
        return json.loads(body)
    except ValueError:
        return None


def texts(value: object) -> Iterator[str]:
    """The text in a message ``content`` (a string or a list of content parts)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for part in value:
            if isinstance(part, dict) and isinstance(part.get("text"), str):
                yield part["text"]


def prompt_tokens(messages: Iterable[object]) -> int:
    """The prompt tokens of ``messages``: 3 per message plus their text, and 3 for the reply."""
    total = _REPLY_PRIMING
    for message in messages:
        content = message.get("content") if isinstance(message, dict) else None
        total += _MESSAGE_OVERHEAD + sum(count_tokens(text) for text in texts(content))
    return total


def default_content(messages: list[object]) -> str:
    """``"Echo: "`` plus the last user message, or a fixed phrase."""
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "user":
            text = " ".join(" ".join(texts(message.get("content"))).split())
            if not text:
                break
            if len(text) > _ECHO_LIMIT:
                text = text[:_ECHO_LIMIT].rstrip() + "..."
            return f"Echo: {text}"
    return _DEFAULT_REPLY


def pieces(content: str) -> list[str]:
    """Split ``content`` into stream deltas: one word (with its following space) each."""
    return [piece for piece in re.split(r"(?<=\s)(?=\S)", content) if piece]
