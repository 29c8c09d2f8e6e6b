"""Edits of the request body, made only when an option asks for them.

By default the body goes out exactly as the caller built it. ``stream_usage=True`` asks chat
streams for a usage chunk; ``send_metadata=True`` sends the merged usage metadata as the
request's ``metadata``, validated against OpenAI's limits first.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from openai._compat import model_copy
from openai._models import FinalRequestOptions

from .._config import settings
from .._context import UsageContext
from .._errors import MetadataError
from .._metadata import merge_metadata
from .._recording import _chain_metadata
from .._records import thaw
from .._tracking import TrackingOptions

__all__ = [
    "MAX_KEYS",
    "MAX_KEY_LENGTH",
    "MAX_VALUE_LENGTH",
    "caller_metadata",
    "edit_request",
    "request_metadata",
]

MAX_KEYS = 16
"""OpenAI accepts at most this many metadata keys."""
MAX_KEY_LENGTH = 64
"""OpenAI's limit on the length of a metadata key."""
MAX_VALUE_LENGTH = 512
"""OpenAI's limit on the length of a metadata value (values are strings)."""

_SOURCE = "send_metadata=True"


def caller_metadata(body: object) -> dict[str, Any] | None:
    """The ``metadata`` the caller put in the request body (its per-call metadata), if usable.

    OpenAI's request metadata maps strings to strings; anything else is ignored here (the API
    will reject it itself).
    """
    if not isinstance(body, dict):
        return None
    value = body.get("metadata")
    if not value or not isinstance(value, Mapping):
        return None
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        return None
    return dict(value)


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(thaw({"v": value})["v"], separators=(",", ":"), sort_keys=True)


def _origin(
    key: str,
    own: Mapping[str, Any] | None,
    context: UsageContext | None,
    client: Mapping[str, Any],
) -> str:
    if own and key in own:
        return "the call's own metadata"
    node = context
    while node is not None:
        if key in node.own_metadata:
            return f"context {node.operation_type!r}"
        node = node.parent
    if key in client:
        return "wrap_openai(metadata=...)"
    return "the environment tags (configure(environment=...))"


def request_metadata(
    own: Mapping[str, Any] | None,
    context: UsageContext | None,
    client: Mapping[str, Any],
) -> dict[str, str]:
    """The ``metadata`` to send: environment tags < client defaults < contexts < ``own``.

    Values become strings (non-strings as compact JSON, e.g. ``True`` -> ``"true"``). Raises
    :class:`MetadataError` naming the first key that breaks OpenAI's limits.
    """
    merged: Mapping[str, Any] = settings().environment_tags
    if client:
        merged = merge_metadata(merged, client)
    if context is not None:
        merged = merge_metadata(merged, _chain_metadata(context))
    if own:
        merged = merge_metadata(merged, own)
    if len(merged) > MAX_KEYS:
        extra = list(merged)[MAX_KEYS]
        raise MetadataError(
            f"send_metadata=True: the merged metadata has {len(merged)} keys but OpenAI accepts "
            f"at most {MAX_KEYS}; key {extra!r} (from {_origin(extra, own, context, client)}) "
            f"is one too many. Keys: {', '.join(sorted(merged))}",
            key=extra,
            value=merged[extra],
            source=_SOURCE,
        )
    result: dict[str, str] = {}
    for key, value in merged.items():
        if len(key) > MAX_KEY_LENGTH:
            raise MetadataError(
                f"send_metadata=True: metadata key {key[:MAX_KEY_LENGTH]!r}... (from "
                f"{_origin(key, own, context, client)}) is {len(key)} characters long; OpenAI "
                f"accepts keys of at most {MAX_KEY_LENGTH}",
                key=key,
                value=value,
                source=_SOURCE,
            )
        text = _as_text(value)
        if len(text) > MAX_VALUE_LENGTH:
            raise MetadataError(
                f"send_metadata=True: the value of metadata key {key!r} (from "
                f"{_origin(key, own, context, client)}) is {len(text)} characters long as a "
                f"string; OpenAI accepts values of at most {MAX_VALUE_LENGTH}",
                key=key,
                value=value,
                source=_SOURCE,
            )
        result[key] = text
    return result


def _accepts_metadata(api: str, body: Mapping[str, Any]) -> bool:
    # Chat Completions only takes metadata for stored completions; the Responses API always
    # does; embeddings, legacy completions and compaction never.
    if api == "chat":
        return body.get("store") is True
    return api == "responses"


def edit_request(
    options: FinalRequestOptions,
    api: str,
    tracking: TrackingOptions,
    context: UsageContext | None,
    own: Mapping[str, Any] | None,
) -> tuple[FinalRequestOptions, bool]:
    """Apply ``stream_usage`` and ``send_metadata``; return the options to send and whether
    the stream's usage-only chunk must be hidden from the caller.

    The caller's ``options`` object is never mutated: a changed body goes into a copy.
    """
    body = options.json_data
    if not isinstance(body, dict):
        return options, False
    extra = options.extra_json or {}
    changes: dict[str, Any] = {}
    hide_usage_chunk = False
    if (
        tracking.stream_usage
        and (api == "chat" or api == "completions")
        and body.get("stream") is True
        and "stream_options" not in extra
    ):
        stream_options = body.get("stream_options")
        if stream_options is None:
            changes["stream_options"] = {"include_usage": True}
            hide_usage_chunk = True
        elif isinstance(stream_options, Mapping) and "include_usage" not in stream_options:
            changes["stream_options"] = {**stream_options, "include_usage": True}
            hide_usage_chunk = True
    if (
        tracking.send_metadata
        and "metadata" not in extra
        # Metadata of the caller's that we cannot read is left alone for the API to judge.
        and (own is not None or body.get("metadata") is None)
        and _accepts_metadata(api, body)
    ):
        changes["metadata"] = request_metadata(own, context, tracking.metadata)
    if not changes:
        return options, False
    edited = model_copy(options)
    edited.json_data = {**body, **changes}
    return edited, hide_usage_chunk
