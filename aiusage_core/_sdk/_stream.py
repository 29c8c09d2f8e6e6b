"""Tracking streams and raw responses without changing what the caller gets.

The caller keeps the SDK's own objects. A ``Stream``/``AsyncStream`` iterates ``_iterator``;
we put a thin generator around the SDK's iterator there, which hands each item to the
provider adapter's stream reader (the usage chunk of an OpenAI chat stream, the final
``response.*`` event of a Responses stream, Anthropic's ``message_*`` events) and records
when the stream ends or fails.
Closing is seen on the HTTP response, which every way of closing reaches (``Stream.close``,
the ``.stream()`` helpers, ``with_streaming_response`` exits). A stream that is dropped
unfinished is recorded when its :class:`aiusage_core._calls.UnfinishedCall` is garbage-collected.

Raw responses (``with_raw_response``, ``with_streaming_response``) get their ``parse`` (and,
for unread bodies, ``read`` and ``close``) hooked on the instance, so the record follows
whatever the caller reads.

A call list (a Batch API's results) lists whole calls: each item the caller reads is
recorded as a call of its own, once per usage context however often the results are read.
"""

from __future__ import annotations

import json
import logging
import threading
import weakref
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx2

from .._calls import CallStart, PendingCall

__all__ = [
    "instrument_stream",
    "track_call_list",
    "track_raw_call_list",
    "track_raw_response",
]

logger = logging.getLogger("aiusage")

# -- the per-item loops: keep them minimal, they run for every item -------------------------


def _items(inner: Iterator[Any], call: PendingCall) -> Iterator[Any]:
    read = call.start.adapter.stream_reader(call.start.api)
    try:
        for item in inner:
            if read(call, item):
                continue  # an item we asked for and the caller did not
            yield item
    except Exception as exc:
        call.finish(exc)
        raise
    call.finish()


async def _async_items(inner: AsyncIterator[Any], call: PendingCall) -> AsyncIterator[Any]:
    read = call.start.adapter.stream_reader(call.start.api)
    try:
        async for item in inner:
            if read(call, item):
                continue
            yield item
    except Exception as exc:
        call.finish(exc)
        raise
    call.finish()


# -- hooking objects the caller holds -------------------------------------------------------


def _hook_http_close(response: httpx2.Response, call: PendingCall, *, is_async: bool) -> None:
    """Record when ``response`` is closed from outside the SDK's stream iterator."""
    if is_async:
        original_aclose = response.aclose

        async def aclose() -> None:
            try:
                await original_aclose()
            finally:
                call.closed()

        response.__dict__["aclose"] = aclose
    else:
        original_close = response.close

        def close() -> None:
            try:
                original_close()
            finally:
                call.closed()

        response.__dict__["close"] = close


# -- noticing a loop left before the end ----------------------------------------------------

_CALL_KEY = "_aiusage_call"
"""Where a tracked stream keeps its :class:`PendingCall` (in its ``__dict__``)."""

_left_classes: dict[type, type] = {}
_left_lock = threading.Lock()


def _iterate_sync(cls: Any) -> Callable[[Any], Iterator[Any]]:
    def __iter__(self: Any) -> Iterator[Any]:
        call: PendingCall = self.__dict__[_CALL_KEY]
        call.loops += 1
        try:
            yield from cls.__iter__(self)
        finally:
            call.left()  # nothing to do when the stream ended (it is recorded already)

    return __iter__


def _iterate_async(cls: Any) -> Callable[[Any], AsyncIterator[Any]]:
    async def __aiter__(self: Any) -> AsyncIterator[Any]:
        call: PendingCall = self.__dict__[_CALL_KEY]
        call.loops += 1
        try:
            async for item in cls.__aiter__(self):
                yield item
        finally:
            call.left()

    return __aiter__


def _noticing_class(cls: type, is_async: bool) -> type:
    """The subclass of a stream class whose iteration tells the call when a loop is left
    before the end (made once per class; no new slots, so ``__class__`` can be swapped)."""
    with _left_lock:
        noticing = _left_classes.get(cls)
        if noticing is None:
            method = (
                {"__aiter__": _iterate_async(cls)} if is_async else {"__iter__": _iterate_sync(cls)}
            )
            noticing = type(
                cls.__name__,
                (cls,),
                {"__module__": cls.__module__, "__qualname__": cls.__qualname__, **method},
            )
            _left_classes[cls] = noticing
        return noticing


def instrument_stream(stream: Any, call: PendingCall) -> None:
    """Track ``stream`` (the SDK's ``Stream`` or ``AsyncStream``) once for ``call``;
    ``stream`` stays the SDK's object."""
    if call.inner is not None:
        return  # parse() called again on the same raw response
    response = stream.response
    if call.request_id is None:
        call.request_id = response.headers.get(call.start.adapter.request_id_header)
    is_async = isinstance(stream, call.start.adapter.sdk.streams[1])
    inner = stream._iterator
    call.inner = inner
    stream._iterator = _async_items(inner, call) if is_async else _items(inner, call)
    _hook_http_close(response, call, is_async=is_async)
    stream.__dict__[_CALL_KEY] = call
    stream.__class__ = _noticing_class(type(stream), is_async)


def _instrument_if_stream(result: object, call: PendingCall) -> None:
    if isinstance(result, call.start.adapter.sdk.streams):
        try:
            instrument_stream(result, call)
        except Exception:
            logger.exception(
                "aiusage: tracking an %s stream failed; it is not counted", call.start.adapter.name
            )


def _read_already(response: httpx2.Response) -> bool:
    """Whether the body of ``response`` has been read into memory."""
    try:
        response.content  # noqa: B018 - raises ResponseNotRead if the body was not read
    except httpx2.ResponseNotRead:
        return False
    return True


def _json_body(response: httpx2.Response) -> object:
    """The parsed JSON body of ``response`` if it has been read, else ``None``."""
    try:
        content = response.content  # raises if the body was not read
        return json.loads(content)
    except Exception:
        return None


def _hook_after(obj: object, name: str, after: Callable[[Any], None], *, is_async: bool) -> None:
    """Make ``obj.name(...)`` call ``after(result)`` once it returned (on the instance)."""
    original = getattr(obj, name)
    if is_async:

        async def hooked_async(*args: Any, **kwargs: Any) -> Any:
            result = await original(*args, **kwargs)
            after(result)
            return result

        obj.__dict__[name] = hooked_async
    else:

        def hooked(*args: Any, **kwargs: Any) -> Any:
            result = original(*args, **kwargs)
            after(result)
            return result

        obj.__dict__[name] = hooked


def track_raw_response(raw: Any, call: PendingCall, *, sse: bool, is_async: bool) -> None:
    """Track a ``with_raw_response`` / ``with_streaming_response`` result for ``call``."""
    http_response = raw.http_response
    call.request_id = http_response.headers.get(call.start.adapter.request_id_header)
    legacy = isinstance(raw, call.start.adapter.sdk.legacy_response)

    def parsed(result: object) -> None:
        _instrument_if_stream(result, call)

    if sse:
        # The caller reads the events through parse() (a Stream) or the raw lines. Legacy
        # raw responses parse synchronously even on the async client.
        _hook_after(raw, "parse", parsed, is_async=is_async and not legacy)
        _hook_http_close(http_response, call, is_async=is_async)
        return
    if legacy or _read_already(http_response):
        # with_raw_response read the body already (whatever the class of its result).
        call.final = _json_body(http_response)
        call.finish()
        return

    # with_streaming_response: the body is read (if at all) by read(), which parse(),
    # json() and text() go through; close() ends the call either way.
    def read(_: object) -> None:
        call.final = _json_body(http_response)
        call.finish()

    def closed(_: object) -> None:
        if not call.done:
            call.final = _json_body(http_response)
            call.finish()

    _hook_after(raw, "read", read, is_async=is_async)
    _hook_after(raw, "close", closed, is_async=is_async)


# -- call lists: a Batch API's results ------------------------------------------------------

_LISTED_LIMIT = 100_000
_listed: dict[tuple[str, str], weakref.ref[Any] | None] = {}
"""(provider, id) of each listed call recorded already -> the context it was recorded in
(``None``: outside any). Forgotten all at once when full."""
_listed_lock = threading.Lock()


def _record_listed(start: CallStart, read: Callable[[PendingCall, Any], bool], item: Any) -> None:
    """Record the call ``item`` lists (if it is one: the adapter's reader sets its final
    object), unless it was recorded already. Never raises."""
    try:
        call = PendingCall(
            CallStart(
                start.adapter,
                start.api,
                start.provider,
                start.model,
                context=start.context,
                client_metadata=start.client_metadata,
                batch=True,
            )
        )
        read(call, item)
        if call.final is None:
            return  # not a call that ran (errored, canceled, expired): nothing billed
        if call.request_id is not None:
            # Results read again in the same context are the same calls; in another context
            # (another test replaying one cassette, say) they are that context's.
            key = (start.provider, call.request_id)
            context = start.context
            with _listed_lock:
                if key in _listed:
                    recorded_in = _listed[key]
                    if (None if recorded_in is None else recorded_in()) is context:
                        return
                if len(_listed) >= _LISTED_LIMIT:
                    _listed.clear()
                _listed[key] = None if context is None else weakref.ref(context)
        call.finish(unseen=True)  # no latency: the call ran inside the batch
    except Exception:
        logger.exception("aiusage: recording a call of %s batch results failed", start.provider)


def _listed_items(inner: Iterator[Any], start: CallStart) -> Iterator[Any]:
    read = start.adapter.stream_reader(start.api)
    for item in inner:
        _record_listed(start, read, item)
        yield item


async def _async_listed_items(inner: AsyncIterator[Any], start: CallStart) -> AsyncIterator[Any]:
    read = start.adapter.stream_reader(start.api)
    async for item in inner:
        _record_listed(start, read, item)
        yield item


def track_call_list(result: Any, start: CallStart) -> None:
    """Record each call ``result`` (the SDK's JSON Lines decoder of a Batch API's results)
    lists as the caller reads it; ``result`` stays the SDK's object. Never raises."""
    try:
        inner = result._iterator
        result.__dict__["_iterator"] = (
            _async_listed_items(inner, start)
            if hasattr(inner, "__anext__")
            else _listed_items(inner, start)
        )
    except Exception:
        logger.exception("aiusage: tracking %s batch results failed", start.provider)


def track_raw_call_list(raw: Any, start: CallStart, *, is_async: bool) -> None:
    """Track the call list a raw response of a Batch API's results parses to, each time it
    is parsed. Never raises."""
    call_lists = start.adapter.sdk.call_lists
    legacy = isinstance(raw, start.adapter.sdk.legacy_response)

    def parsed(result: object) -> None:
        if isinstance(result, call_lists):
            track_call_list(result, start)

    try:
        _hook_after(raw, "parse", parsed, is_async=is_async and not legacy)
    except Exception:
        logger.exception("aiusage: tracking %s batch results failed", start.provider)
