"""One tracked ``request()`` of an OpenAI client, sync or async.

Every SDK method that reaches the API (``create``, ``parse``, the ``.stream()`` helpers,
``with_raw_response`` and ``with_streaming_response``) ends in the client's ``request()``.
Tracking there sees one call once, whatever form the caller used. The result is handed back
untouched: a parsed response is read, a stream or raw response is tracked in place.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from openai import AsyncStream, AzureOpenAI, Stream
from openai._legacy_response import LegacyAPIResponse
from openai._models import FinalRequestOptions
from openai._response import BaseAPIResponse
from openai.lib.azure import AsyncAzureOpenAI

from .._context import _adopt, _adoptive, _current
from .._errors import MetadataError
from .._reservations import Reservation, reserve
from ._estimate import estimate_request
from ._extract import Api
from ._options import TrackingOptions
from ._pending import PendingCall, Started, UnfinishedCall, record_response
from ._request import caller_metadata, edit_request
from ._stream import instrument_stream, track_raw_response

__all__ = ["ENDPOINTS", "call_async", "call_sync"]

logger = logging.getLogger("aiusage")

ENDPOINTS: Mapping[str, Api] = {
    "/chat/completions": "chat",
    "/embeddings": "embeddings",
    "/responses": "responses",
}
"""The tracked endpoints (POST only) and the API each one is."""

_AZURE = (AzureOpenAI, AsyncAzureOpenAI)
_STREAMS = (Stream, AsyncStream)
_RAW_RESPONSES = (LegacyAPIResponse, BaseAPIResponse)
_ENDS_LATER = (*_STREAMS, *_RAW_RESPONSES)


def _start(
    client: object, tracking: TrackingOptions, api: Api, options: FinalRequestOptions
) -> tuple[Started, FinalRequestOptions]:
    """Everything known before sending; may raise MetadataError (caller misuse)."""
    context = _current.get()
    if context is None and _adoptive.context is not None:
        context = _adopt()  # a thread that inherited no context, during a test (inlined)
    body = options.json_data
    model = own = None
    if type(body) is dict:
        model = body.get("model")
        if "metadata" in body:
            own = caller_metadata(body)
    hide_usage_chunk = False
    if tracking.stream_usage or tracking.send_metadata:
        options, hide_usage_chunk = edit_request(options, api, tracking, context, own)
    started: Started = (
        api,
        tracking.provider or ("azure" if isinstance(client, _AZURE) else "openai"),
        model if isinstance(model, str) and model else "unknown",
        tracking.metadata or None,
        own,
        context,
        time.perf_counter(),
        hide_usage_chunk,
    )
    return started, options


def _reserve(started: Started, options: FinalRequestOptions) -> Reservation:
    """Reserve the call's worst case on the budgets above its context (the one place a
    call is checked against budgets, before it is sent); raises BudgetExceededError."""
    context = started[5]
    assert context is not None
    estimate = estimate_request(
        started[0], started[1], started[2], options.json_data, options.extra_json
    )
    return reserve(context, estimate)


def _track_later(
    result: object,
    started: Started,
    kwargs: Mapping[str, Any],
    is_async: bool,
    reservation: Reservation | None,
) -> None:
    """Track a stream, or a raw response whose body is read later, in place; never raises."""
    call = UnfinishedCall(*started, reservation)
    try:
        if isinstance(result, _STREAMS):
            instrument_stream(result, call)
        elif isinstance(result, _RAW_RESPONSES):
            sse = bool(kwargs.get("stream"))
            track_raw_response(result, call, sse=sse, is_async=is_async)
    except Exception:
        logger.exception("aiusage: tracking an OpenAI %s call failed", call.api)
        call.finish()  # counted with what is known, rather than lost


def call_sync(
    client: object,
    send: Callable[..., Any],
    tracking: TrackingOptions,
    cast_to: Any,
    options: FinalRequestOptions,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> Any:
    """Run ``send(cast_to, options, *args, **kwargs)`` (the SDK's ``request``) tracked."""
    api = ENDPOINTS.get(options.url) if options.method == "post" else None
    if api is None:
        return send(cast_to, options, *args, **kwargs)
    try:
        started, options = _start(client, tracking, api, options)
    except MetadataError:
        raise  # send_metadata=True with metadata OpenAI would reject: the caller's to fix
    except Exception:
        logger.exception("aiusage: tracking an OpenAI %s call failed; it is not counted", api)
        return send(cast_to, options, *args, **kwargs)
    context = started[5]
    reservation = _reserve(started, options) if context is not None and context._budgets else None
    try:
        result = send(cast_to, options, *args, **kwargs)
    except BaseException as exc:
        PendingCall(*started, reservation).finish(exc)
        raise
    if isinstance(result, _ENDS_LATER):
        _track_later(result, started, kwargs, False, reservation)
    else:
        record_response(started, result, reservation)  # the common case: a parsed response
    return result


async def call_async(
    client: object,
    send: Callable[..., Awaitable[Any]],
    tracking: TrackingOptions,
    cast_to: Any,
    options: FinalRequestOptions,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> Any:
    """Await ``send(cast_to, options, *args, **kwargs)`` (the SDK's ``request``) tracked."""
    api = ENDPOINTS.get(options.url) if options.method == "post" else None
    if api is None:
        return await send(cast_to, options, *args, **kwargs)
    try:
        started, options = _start(client, tracking, api, options)
    except MetadataError:
        raise  # send_metadata=True with metadata OpenAI would reject: the caller's to fix
    except Exception:
        logger.exception("aiusage: tracking an OpenAI %s call failed; it is not counted", api)
        return await send(cast_to, options, *args, **kwargs)
    context = started[5]
    reservation = _reserve(started, options) if context is not None and context._budgets else None
    try:
        result = await send(cast_to, options, *args, **kwargs)
    except BaseException as exc:
        PendingCall(*started, reservation).finish(exc)
        raise
    if isinstance(result, _ENDS_LATER):
        _track_later(result, started, kwargs, True, reservation)
    else:
        record_response(started, result, reservation)  # the common case: a parsed response
    return result
