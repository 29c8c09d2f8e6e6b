"""The Anthropic adapter: the Messages API through the ``anthropic`` SDK.

Tracked: ``POST /v1/messages`` (``messages.create`` plain and streamed, the ``.stream()``
helper, ``beta.messages``, raw and streaming responses), and the results of message batches
(``GET /v1/messages/batches/{id}/results``), each listed call recorded at batch rates.
Never a call: ``/v1/messages/count_tokens``, batch creation and retrieval, models, files.

Usage is read by :mod:`aiusage_core._anthropic._extract`, which normalises Anthropic's
counts (the cache reported apart from the input) to the vocabulary's conventions; the worst
case of a request by :mod:`aiusage_core._anthropic._estimate`. Bedrock and Vertex clients of
the same SDK are recorded under genai-prices' ``aws`` and ``google``; any other client under
the provider its base URL names (``anthropic`` by default).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from anthropic import APIConnectionError, APIStatusError, AsyncStream, NotGiven, Omit, Stream
from anthropic._base_client import AsyncAPIClient, SyncAPIClient
from anthropic._decoders.jsonl import AsyncJSONLDecoder, JSONLDecoder
from anthropic._response import BaseAPIResponse
from anthropic.lib.bedrock._client import BaseBedrockClient
from anthropic.lib.bedrock._mantle import BaseMantleClient
from anthropic.lib.vertex._client import BaseVertexClient

from .._anthropic._estimate import estimate_request
from .._anthropic._extract import StreamedMessage, extract
from .._calls import CallStart, PendingCall
from .._context import UsageContext
from .._counts import Usage
from .._estimate import CallEstimate
from .._pricing import provider_for_url
from .._sdk._failures import failure_usage
from .._tracking import TrackingOptions
from . import Prepared, Read, SdkTypes, StreamReader
from ._reading import field

__all__ = ["ANTHROPIC"]

logger = logging.getLogger("aiusage")

_MESSAGES = {"/v1/messages": "messages", "/v1/messages?beta=true": "messages"}
_RESULTS = re.compile(r"(?:.*?)/v1/messages/batches/[^/?]+/results(?:\?.*)?")


class _Never:
    """No result is one: the ``anthropic`` SDK has no raw response read at construction."""


_PROVIDERS: tuple[tuple[tuple[type, ...], str], ...] = (
    ((BaseBedrockClient, BaseMantleClient), "aws"),
    ((BaseVertexClient,), "google"),
)
try:  # clients of newer SDKs, named by the cloud that serves them
    from anthropic import AnthropicAWS, AnthropicGoogleCloud, AsyncAnthropicAWS
    from anthropic import AsyncAnthropicGoogleCloud as _AsyncGoogleCloud

    _PROVIDERS += (
        ((AnthropicAWS, AsyncAnthropicAWS), "aws"),
        ((AnthropicGoogleCloud, _AsyncGoogleCloud), "google"),
    )
except ImportError:  # pragma: no cover - older SDKs
    pass

_PROVIDER_KEY = "_aiusage_provider"  # (base URL object, provider) cached on the client
_new_tuple = tuple.__new__


def _message_event(call: PendingCall, event: Any) -> bool:
    """Read one item of a messages stream, or one listed result of a message batch."""
    try:
        kind = event.type
    except AttributeError:
        _batch_result(call, event)
        return False
    try:
        if kind == "message_delta":
            final = call.final
            if type(final) is StreamedMessage:
                final.update(event.usage)
        elif kind == "message_start":
            call.final = StreamedMessage(event.message)
    except Exception:
        logger.exception("aiusage: reading an Anthropic stream event failed")
    return False


def _batch_result(call: PendingCall, item: Any) -> None:
    """A batch's result: a call if it succeeded (errored, canceled and expired requests are
    not billed); its message id identifies it."""
    result = field(item, "result")
    if field(result, "type") == "succeeded":
        message = field(result, "message")
        call.final = message
        message_id = field(message, "id")
        call.request_id = message_id if isinstance(message_id, str) else None


class AnthropicAdapter:
    """The :class:`~aiusage_core._providers.Provider` of the ``anthropic`` SDK."""

    name = "Anthropic"
    request_id_header = "request-id"
    sdk = SdkTypes(
        # Every client of the SDK (Anthropic, Bedrock, Vertex, Foundry, ...) derives from
        # these two: instrumenting them tracks them all.
        sync_client=SyncAPIClient,
        async_client=AsyncAPIClient,
        streams=(Stream, AsyncStream),
        legacy_response=_Never,
        raw_responses=(BaseAPIResponse,),
        call_lists=(JSONLDecoder, AsyncJSONLDecoder),
        omitted=frozenset({NotGiven, Omit}),
    )

    def api_of(self, method: str, url: str) -> str | None:
        if method == "post":
            return _MESSAGES.get(url)
        if method == "get" and _RESULTS.fullmatch(url):
            return "messages"  # a batch's results: each listed call is recorded (prepare)
        return None

    def provider_of(self, client: Any, tracking: TrackingOptions) -> str:
        if tracking.provider:
            return tracking.provider
        base_url = client.base_url  # the SDK's public property; the same object until changed
        cached = client.__dict__.get(_PROVIDER_KEY)
        if cached is not None and cached[0] is base_url:
            return str(cached[1])
        # Worked out once per client (and base URL): its class names the cloud serving it.
        provider = next(
            (cloud for classes, cloud in _PROVIDERS if isinstance(client, classes)), None
        ) or provider_for_url(str(base_url), default="anthropic")
        client.__dict__[_PROVIDER_KEY] = (base_url, provider)
        return provider

    def prepare(
        self, api: str, options: Any, tracking: TrackingOptions, context: UsageContext | None
    ) -> Prepared:
        # Anthropic's request metadata holds only a user id: nothing of ours to send.
        return _new_tuple(Prepared, (options, None, False, options.method == "get"))

    def estimate(
        self, start: CallStart, body: object, extra: Mapping[str, Any] | None
    ) -> CallEstimate:
        return estimate_request(start.provider, start.model, body, extra)

    def read(self, api: str, response: object) -> Read:
        return extract(response)

    def stream_reader(self, api: str) -> StreamReader:
        return _message_event

    def later(self, api: str, response: object) -> str | None:
        return None  # every response carries its own usage (batches are read as results)

    def finished(self, response: object) -> str | None:
        return None

    def failure(self, exc: BaseException) -> tuple[Usage, Decimal | None]:
        return failure_usage(exc, APIStatusError, APIConnectionError)


ANTHROPIC = AnthropicAdapter()
"""The Anthropic adapter."""
