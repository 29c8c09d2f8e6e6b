"""One tracked ``request()`` of a provider's client, sync or async, for every provider.

Every SDK method that reaches the API (``create``, ``parse``, the ``.stream()`` helpers,
``with_raw_response`` and ``with_streaming_response``) ends in the client's ``request()``.
Tracking there sees one call once, whatever form the caller used. The result is handed back
untouched: a parsed response is read, a stream or raw response is tracked in place.

The order of a call, the same for every provider: the adapter names the endpoint's API (or
the call is not tracked), prepares the request, the :class:`~aiusage_core._calls.CallStart`
is made, budgets reserve on it (:func:`~aiusage_core._calls.reserve`), the request is sent.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from .._calls import (
    CallStart,
    PendingCall,
    UnfinishedCall,
    _awaiting,
    finish_awaited,
    record_response,
    reserve,
)
from .._context import _adopt, _adoptive, _current
from .._errors import MetadataError
from .._providers import Provider
from .._tracking import TrackingOptions
from ._stream import (
    instrument_stream,
    track_call_list,
    track_raw_call_list,
    track_raw_response,
)

__all__ = ["call_async", "call_sync"]

logger = logging.getLogger("aiusage")


def _start(
    adapter: Provider, client: object, tracking: TrackingOptions, api: str, options: Any
) -> tuple[CallStart, Any]:
    """Everything known before sending; may raise MetadataError (caller misuse)."""
    context = _current.get()
    if context is None and _adoptive.context is not None:
        context = _adopt()  # a thread that inherited no context, during a test (inlined)
    body = options.json_data
    model = body.get("model") if type(body) is dict else None
    prepared = adapter.prepare(api, options, tracking, context)
    start = CallStart(
        adapter,
        api,
        adapter.provider_of(client, tracking),
        model if isinstance(model, str) and model else "unknown",
        context=context,
        client_metadata=tracking.metadata or None,
        call_metadata=prepared.call_metadata,
        hide_usage_item=prepared.hide_usage_item,
        batch=prepared.batch,
    )
    return start, prepared.options


def _track_later(
    result: object, start: CallStart, kwargs: Mapping[str, Any], is_async: bool
) -> None:
    """Track a stream, or a raw response whose body is read later, in place; never raises."""
    sdk = start.adapter.sdk
    if start.batch:
        # A Batch API's results: each call they list is recorded as it is read (through the
        # raw response's parse() for with_raw_response / with_streaming_response).
        if isinstance(result, sdk.call_lists):
            track_call_list(result, start)
        elif isinstance(result, sdk.raw_responses):
            track_raw_call_list(result, start, is_async=is_async)
        return
    call = UnfinishedCall(start)
    try:
        if isinstance(result, sdk.streams):
            instrument_stream(result, call)
        elif isinstance(result, sdk.raw_responses):
            sse = bool(kwargs.get("stream"))
            track_raw_response(result, call, sse=sse, is_async=is_async)
    except Exception:
        logger.exception("aiusage: tracking an %s %s call failed", start.adapter.name, start.api)
        call.finish()  # counted with what is known, rather than lost


def _begin(
    adapter: Provider, client: object, tracking: TrackingOptions, api: str, options: Any
) -> tuple[CallStart | None, Any]:
    """The call's start (``None``: tracking failed, send untracked) and the options to
    send. Raises the caller's :class:`MetadataError` and a budget's refusal."""
    try:
        start, options = _start(adapter, client, tracking, api, options)
    except MetadataError:
        raise  # metadata the provider would reject: the caller's to fix
    except Exception:
        logger.exception(
            "aiusage: tracking an %s %s call failed; it is not counted", adapter.name, api
        )
        return None, options
    reserve(start, options.json_data, options.extra_json)  # may refuse: nothing was sent
    return start, options


def call_sync(
    adapter: Provider,
    client: object,
    send: Callable[..., Any],
    tracking: TrackingOptions,
    cast_to: Any,
    options: Any,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> Any:
    """Run ``send(cast_to, options, *args, **kwargs)`` (the SDK's ``request``) tracked."""
    api = adapter.api_of(options.method, options.url)
    if api is None:
        if _awaiting.calls:  # a poll may finish a call whose usage came later
            result = send(cast_to, options, *args, **kwargs)
            finish_awaited(adapter, result)
            return result
        return send(cast_to, options, *args, **kwargs)
    start, options = _begin(adapter, client, tracking, api, options)
    if start is None:
        return send(cast_to, options, *args, **kwargs)
    try:
        result = send(cast_to, options, *args, **kwargs)
    except BaseException as exc:
        PendingCall(start).finish(exc)
        raise
    if isinstance(result, adapter.sdk.ends_later) or start.batch:
        _track_later(result, start, kwargs, False)
    else:
        record_response(start, result)  # the common case: a parsed response
    return result


async def call_async(
    adapter: Provider,
    client: object,
    send: Callable[..., Awaitable[Any]],
    tracking: TrackingOptions,
    cast_to: Any,
    options: Any,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> Any:
    """Await ``send(cast_to, options, *args, **kwargs)`` (the SDK's ``request``) tracked."""
    api = adapter.api_of(options.method, options.url)
    if api is None:
        if _awaiting.calls:  # a poll may finish a call whose usage came later
            result = await send(cast_to, options, *args, **kwargs)
            finish_awaited(adapter, result)
            return result
        return await send(cast_to, options, *args, **kwargs)
    start, options = _begin(adapter, client, tracking, api, options)
    if start is None:
        return await send(cast_to, options, *args, **kwargs)
    try:
        result = await send(cast_to, options, *args, **kwargs)
    except BaseException as exc:
        PendingCall(start).finish(exc)
        raise
    if isinstance(result, adapter.sdk.ends_later) or start.batch:
        _track_later(result, start, kwargs, True)
    else:
        record_response(start, result)  # the common case: a parsed response
    return result
