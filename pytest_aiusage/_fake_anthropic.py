"""Anthropic's wire format for the fake server (private; served by :class:`FakeOpenAI`).

``POST /v1/messages`` (JSON, or SSE with ``stream: true``), ``/v1/messages/count_tokens``
and the message batches (``POST /v1/messages/batches``, ``GET .../batches/{id}``, ``GET
.../batches/{id}/results`` as JSON Lines), with or without the SDK's ``?beta=true``. Field
names follow the ``anthropic`` SDK's types (``Message``, ``Usage``, ``RawMessage*Event``,
``MessageBatch``, ``MessageBatchIndividualResponse``, ``ErrorResponse``).

Usage, scripted or not, is Anthropic's: ``input_tokens`` *excludes* the cache reads and
writes reported beside it. A stream's ``message_start`` carries the input side and one
output token; its ``message_delta`` repeats the cumulative counts with the final output
(cumulative, not increments: a client must not add them). Batches end at once: a batch is
``in_progress`` when created and ``ended`` from its first retrieval.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta, timezone
from typing import Any, Final

from ._fake_wire import (
    Ids,
    NoUsage,
    Script,
    count_tokens,
    default_content,
    dumps,
    pieces,
    prompt_tokens,
    sse_event,
)

__all__ = ["PREFIX", "AnthropicApi", "AnthropicError", "error_body", "is_anthropic"]

PREFIX: Final = "/v1/messages"
"""The paths of Anthropic's own API start with this."""

_CLOUD_PATH: Final = re.compile(
    r"(?:/v1)?/projects/[^/]+/locations/[^/]+/publishers/anthropic/models/"
    r"(?P<vertex>[^/:]+):(?P<verb>rawPredict|streamRawPredict)"
    r"|/model/(?P<bedrock>[^/]+)/invoke"
)
"""Messages through a cloud: Vertex AI's ``rawPredict`` / ``streamRawPredict`` and Bedrock's
``invoke`` (JSON only), which name the model in the path."""


def is_anthropic(path: str) -> bool:
    """Whether ``path`` is one the Anthropic side answers."""
    return path.startswith(PREFIX) or _CLOUD_PATH.fullmatch(path) is not None


_CREATED_AT: Final = datetime.fromtimestamp(1_700_000_000, timezone.utc)
_BATCH_PATH: Final = re.compile(r"/v1/messages/batches/(?P<id>msgbatch_\w+)(?P<results>/results)?")

_ERROR_DEFAULTS: Final[Mapping[int, tuple[str, str]]] = {
    400: ("invalid_request_error", "Invalid request (scripted by FakeOpenAI)."),
    401: ("authentication_error", "invalid x-api-key"),
    402: ("billing_error", "Your credit balance is too low to access the Anthropic API."),
    403: (
        "permission_error",
        "Your API key does not have permission to use the specified resource.",
    ),
    404: ("not_found_error", "The requested resource could not be found."),
    413: ("request_too_large", "Request exceeds the maximum allowed number of bytes."),
    429: ("rate_limit_error", "Number of request tokens has exceeded your per-minute rate limit."),
    500: ("api_error", "Internal server error"),
    504: ("timeout_error", "Request timed out"),
    529: ("overloaded_error", "Overloaded"),
}


class AnthropicError(Exception):
    """Raised while building a reply; becomes Anthropic's error body."""

    def __init__(self, status: int, message: str, type_: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.overrides = (
            {"message": message} if type_ is None else {"message": message, "type": type_}
        )


def error_body(status: int, overrides: Mapping[str, Any] | None, request_id: str) -> dict[str, Any]:
    """Anthropic's ``{"type": "error", "error": {...}, "request_id": ...}`` for ``status``,
    with ``overrides`` (``type``, ``message``) applied to the ``error`` object."""
    fallback = "api_error" if status >= 500 else "invalid_request_error"
    type_, message = _ERROR_DEFAULTS.get(status, (fallback, f"HTTP {status} (scripted)."))
    error: dict[str, Any] = {"type": type_, "message": message}
    error.update(overrides or {})
    return {"type": "error", "error": error, "request_id": request_id}


def _timestamp(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _body_text(body: Mapping[str, Any]) -> list[object]:
    """The prompt as chat-like messages: the system prompt (if any) then ``messages``."""
    messages = body.get("messages")
    if not isinstance(messages, list):
        raise AnthropicError(400, "messages: Field required")
    system = body.get("system")
    return [{"role": "system", "content": system}, *messages] if system else list(messages)


def _max_tokens(body: Mapping[str, Any]) -> int:
    value = body.get("max_tokens")
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise AnthropicError(400, "max_tokens: Field required")
    return value


def _service_tier(body: Mapping[str, Any], script: Script) -> str:
    if script.service_tier is not None:
        return script.service_tier
    # "auto" and "standard_only" both answer from the standard tier when it has room.
    return "standard"


class _Reply:
    """What one Anthropic request gets: a JSON object, an SSE stream, or JSON Lines."""

    __slots__ = ("jsonl", "payload", "stream")

    def __init__(
        self,
        payload: dict[str, Any] | None = None,
        *,
        stream: Iterator[bytes] | None = None,
        jsonl: bytes | None = None,
    ) -> None:
        self.payload = payload
        self.stream = stream
        self.jsonl = jsonl


class AnthropicApi:
    """The Anthropic endpoints, with the batches created so far (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._batches: dict[str, tuple[list[dict[str, Any]], bool]] = {}

    def reset(self) -> None:
        """Forget every batch."""
        with self._lock:
            self._batches.clear()

    def respond(
        self, method: str, path: str, body: Any, script: Script, ids: Ids, root: str
    ) -> _Reply:
        """The reply to ``method path`` (``root``: the server's URL, for ``results_url``).
        Raises :class:`AnthropicError` for a request the API would refuse."""
        if method == "POST" and path in (PREFIX, f"{PREFIX}/count_tokens", f"{PREFIX}/batches"):
            if not isinstance(body, dict):
                raise AnthropicError(400, "There was an issue with the format of your request.")
            if path == f"{PREFIX}/batches":
                return _Reply(self._create_batch(body, script, ids))
            if not isinstance(body.get("model"), str):
                raise AnthropicError(400, "model: Field required")
            if path == PREFIX:
                return _message_reply(body, script, ids)
            return _Reply({"input_tokens": prompt_tokens(_body_text(body))})
        cloud = _CLOUD_PATH.fullmatch(path)
        if method == "POST" and cloud is not None and isinstance(body, dict):
            stream = cloud["verb"] == "streamRawPredict"
            model = cloud["vertex"] or cloud["bedrock"]
            return _message_reply({**body, "model": model, "stream": stream}, script, ids)
        match = _BATCH_PATH.fullmatch(path)
        if method == "GET" and match is not None:
            if match["results"]:
                return _Reply(jsonl=self._results(match["id"]))
            return _Reply(self._retrieve(match["id"], root))
        raise AnthropicError(404, f"Not found: {method} {path}", "not_found_error")

    # -- batches -------------------------------------------------------------------------

    def _create_batch(self, body: Mapping[str, Any], script: Script, ids: Ids) -> dict[str, Any]:
        requests = body.get("requests")
        if not isinstance(requests, list) or not requests:
            raise AnthropicError(400, "requests: Field required")
        batch_id = f"msgbatch_{ids.hex('msgbatch', 24)}"
        results = []
        for number, item in enumerate(requests):
            params = item.get("params") if isinstance(item, dict) else None
            if not isinstance(params, dict) or not isinstance(params.get("model"), str):
                raise AnthropicError(400, f"requests.{number}.params: Field required")
            item_ids = Ids(f"{batch_id}/{number}".encode())
            message = _message(params, script, item_ids, service_tier="batch")
            results.append(
                {
                    "custom_id": item.get("custom_id"),
                    "result": {"type": "succeeded", "message": message},
                }
            )
        with self._lock:
            self._batches[batch_id] = (results, False)
        return _batch(batch_id, len(results), ended=False, results_url=None)

    def _stored(self, batch_id: str) -> list[dict[str, Any]]:
        with self._lock:
            stored = self._batches.get(batch_id)
        if stored is None:
            raise AnthropicError(404, f"No message batch with id {batch_id}.", "not_found_error")
        return stored[0]

    def _retrieve(self, batch_id: str, root: str) -> dict[str, Any]:
        results = self._stored(batch_id)
        with self._lock:
            self._batches[batch_id] = (results, True)
        url = f"{root}{PREFIX}/batches/{batch_id}/results"
        return _batch(batch_id, len(results), ended=True, results_url=url)

    def _results(self, batch_id: str) -> bytes:
        results = self._stored(batch_id)
        return b"".join(dumps(result) + b"\n" for result in results)


def _batch(batch_id: str, count: int, *, ended: bool, results_url: str | None) -> dict[str, Any]:
    return {
        "id": batch_id,
        "type": "message_batch",
        "processing_status": "ended" if ended else "in_progress",
        "request_counts": {
            "processing": 0 if ended else count,
            "succeeded": count if ended else 0,
            "errored": 0,
            "canceled": 0,
            "expired": 0,
        },
        "created_at": _timestamp(_CREATED_AT),
        "ended_at": _timestamp(_CREATED_AT + timedelta(minutes=1)) if ended else None,
        "expires_at": _timestamp(_CREATED_AT + timedelta(days=1)),
        "archived_at": None,
        "cancel_initiated_at": None,
        "results_url": results_url,
    }


# -- messages -----------------------------------------------------------------------------


def _usage(body: Mapping[str, Any], script: Script, text: str, tier: str) -> dict[str, Any] | None:
    if isinstance(script.usage, NoUsage):
        return None
    if script.usage is not None:
        return dict(script.usage)
    return {
        "input_tokens": prompt_tokens(_body_text(body)),
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
        "cache_creation": {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 0},
        "output_tokens": max(1, count_tokens(text)),
        "service_tier": tier,
    }


def _message(
    body: Mapping[str, Any], script: Script, ids: Ids, *, service_tier: str | None = None
) -> dict[str, Any]:
    """A complete ``Message`` for the request ``body``."""
    _max_tokens(body)
    text = script.content if script.content is not None else default_content(_body_text(body))
    usage = _usage(body, script, text, service_tier or _service_tier(body, script))
    message: dict[str, Any] = {
        "id": f"msg_{ids.hex('msg', 24)}",
        "type": "message",
        "role": "assistant",
        "model": script.model or body["model"],
        "content": [{"type": "text", "text": text}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
    }
    if usage is not None:
        message["usage"] = usage
    return message


def _message_reply(body: Mapping[str, Any], script: Script, ids: Ids) -> _Reply:
    message = _message(body, script, ids)
    if body.get("stream") is not True:
        return _Reply(message)
    return _Reply(stream=(sse_event(event) for event in _events(message)))


_DELTA_COUNTS: Final = (
    "input_tokens",
    "cache_creation_input_tokens",
    "cache_read_input_tokens",
    "output_tokens",
    "server_tool_use",
)


def _events(message: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """The SSE events of ``message``, as the API streams it."""
    usage = message.get("usage")
    start = {**message, "content": [], "stop_reason": None}
    if usage is not None:
        start["usage"] = {
            **{name: value for name, value in usage.items() if name != "server_tool_use"},
            "output_tokens": min(1, usage.get("output_tokens", 0)),
        }
    yield {"type": "message_start", "message": start}
    text = message["content"][0]["text"]
    yield {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}
    yield {"type": "ping"}
    for piece in pieces(text):
        yield {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "text_delta", "text": piece},
        }
    yield {"type": "content_block_stop", "index": 0}
    delta: dict[str, Any] = {
        "type": "message_delta",
        "delta": {"stop_reason": message["stop_reason"], "stop_sequence": None},
    }
    if usage is not None:
        # Cumulative counts: the input side repeated, the output final.
        delta["usage"] = {name: usage[name] for name in _DELTA_COUNTS if name in usage}
    yield delta
    yield {"type": "message_stop"}
