"""The OpenAI adapter: Chat Completions, legacy Completions, Embeddings and Responses (and
their compaction) through the ``openai`` SDK.

Usage is read by :mod:`aiusage_core._openai._extract` (OpenAI's counts already follow the
vocabulary's conventions); opt-in request edits by :mod:`aiusage_core._openai._request`;
the worst case of a request by :mod:`aiusage_core._openai._estimate`.

OpenAI-compatible providers reached through this SDK (OpenRouter, DeepSeek, Groq, ...) are
recognised by the client's base URL, as genai-prices recognises them, and recorded and
priced under their own provider id.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import openai
from openai import APIConnectionError, APIStatusError, AsyncStream, Stream
from openai._legacy_response import LegacyAPIResponse
from openai._response import BaseAPIResponse
from openai.lib.azure import AsyncAzureOpenAI

from .._calls import CallStart, PendingCall
from .._context import UsageContext
from .._counts import Usage
from .._estimate import CallEstimate
from .._openai._estimate import estimate_request
from .._openai._extract import extract, field
from .._openai._request import caller_metadata, edit_request
from .._pricing import provider_for_url
from .._sdk._failures import failure_usage
from .._tracking import TrackingOptions
from . import Prepared, Read, SdkTypes, StreamReader

__all__ = ["ENDPOINTS", "OPENAI"]

ENDPOINTS: Mapping[str, str] = {
    "/chat/completions": "chat",
    "/completions": "completions",
    "/embeddings": "embeddings",
    "/responses": "responses",
    "/responses/compact": "responses.compact",
}
"""The tracked endpoints (POST only) and the API each one is. Every billed endpoint is
here; a background response's poll (``GET /responses/{id}``) is not a call of its own but
finishes the call that created it (:meth:`OpenAIAdapter.finished`)."""

_USAGE_FORMAT: Mapping[str, str] = {"completions": "chat", "responses.compact": "responses"}
"""APIs whose usage (and requests) have the shape of another API's."""
_UNFINISHED = frozenset({"queued", "in_progress"})
_FINISHED = frozenset({"completed", "incomplete", "failed", "cancelled"})

_AZURE = (openai.AzureOpenAI, AsyncAzureOpenAI)
_FINAL_EVENTS = frozenset({"response.completed", "response.incomplete", "response.failed"})
_new_tuple = tuple.__new__
_PROVIDER_KEY = "_aiusage_provider"  # (base URL object, provider) cached on the client


def _status(response: object) -> str | None:
    status = field(response, "status")
    return status if isinstance(status, str) else None


def _chat_item(call: PendingCall, chunk: Any) -> bool:
    if getattr(chunk, "usage", None) is not None:
        call.final = chunk
        # The usage-only chunk we asked for (stream_usage=True); the caller did not.
        return call.start.hide_usage_item and not getattr(chunk, "choices", None)
    if call.final is None:
        # Every chunk names the model and tier that serve the call: a stream that never
        # reports usage is still filed under them (the usage chunk replaces it).
        call.final = chunk
    return False


def _response_event(call: PendingCall, event: Any) -> bool:
    kind = getattr(event, "type", None)
    if kind in _FINAL_EVENTS or (kind == "response.created" and call.final is None):
        # ``response.created`` names the model and tier before any usage exists.
        call.final = getattr(event, "response", None)
    return False


class OpenAIAdapter:
    """The :class:`~aiusage_core._providers.Provider` of the ``openai`` SDK."""

    name = "OpenAI"
    request_id_header = "x-request-id"
    sdk = SdkTypes(
        sync_client=openai.OpenAI,
        async_client=openai.AsyncOpenAI,
        streams=(Stream, AsyncStream),
        legacy_response=LegacyAPIResponse,
        raw_responses=(LegacyAPIResponse, BaseAPIResponse),
        # No ``omitted``: the SDK's methods drop the parameters not given before request()
        # (their bodies go through maybe_transform), so a body needs no filtering.
    )

    def api_of(self, method: str, url: str) -> str | None:
        return ENDPOINTS.get(url) if method == "post" else None

    def provider_of(self, client: Any, tracking: TrackingOptions) -> str:
        if tracking.provider:
            return tracking.provider
        if isinstance(client, _AZURE):
            return "azure"
        base_url = client.base_url  # the SDK's public property; the same object until changed
        cached = client.__dict__.get(_PROVIDER_KEY)
        if cached is not None and cached[0] is base_url:
            return str(cached[1])
        provider = provider_for_url(str(base_url), default="openai")
        client.__dict__[_PROVIDER_KEY] = (base_url, provider)
        return provider

    def prepare(
        self, api: str, options: Any, tracking: TrackingOptions, context: UsageContext | None
    ) -> Prepared:
        body = options.json_data
        own = caller_metadata(body) if type(body) is dict and "metadata" in body else None
        hide = False
        if tracking.stream_usage or tracking.send_metadata:
            options, hide = edit_request(options, api, tracking, context, own)
        return _new_tuple(Prepared, (options, own, hide, False))  # Prepared(...) without a frame

    def estimate(
        self, start: CallStart, body: object, extra: Mapping[str, Any] | None
    ) -> CallEstimate:
        return estimate_request(start.api, start.provider, start.model, body, extra)

    def read(self, api: str, response: object) -> Read:
        return extract(_USAGE_FORMAT.get(api, api), response)

    def later(self, api: str, response: object) -> str | None:
        if (
            api == "responses"
            and field(response, "background") is True
            and _status(response) in _UNFINISHED
        ):
            key = field(response, "id")
            return key if isinstance(key, str) and key else None
        return None

    def finished(self, response: object) -> str | None:
        if field(response, "object") != "response" or _status(response) not in _FINISHED:
            return None
        key = field(response, "id")
        return key if isinstance(key, str) and key else None

    def stream_reader(self, api: str) -> StreamReader:
        return _response_event if api == "responses" else _chat_item

    def failure(self, exc: BaseException) -> tuple[Usage, Decimal | None]:
        return failure_usage(exc, APIStatusError, APIConnectionError)


OPENAI = OpenAIAdapter()
"""The OpenAI adapter."""
