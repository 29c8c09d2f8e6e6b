"""One OpenAI call on its way to becoming a usage record, made exactly once.

A non-streaming call is recorded as soon as its response is parsed. A stream (or a raw
response whose body is read later) is recorded when it ends: exhausted, failed, closed, or
garbage-collected. :class:`PendingCall` holds what is known until then and makes the record
the first time any of those happens; later ones find it already made.

Garbage collection may run inside any allocation, including one made while this thread
holds a lock of the recording machinery. A record due at collection time is therefore made
at once only when none of those locks is held; otherwise it waits in a queue emptied by the
next tracked call (or at interpreter exit).
"""

from __future__ import annotations

import atexit
import contextvars
import functools
import logging
import threading
import time
from collections import deque
from collections.abc import Mapping
from typing import Any

from openai import APIStatusError

from .._config import _lock as _settings_lock
from .._config import settings
from .._context import UsageContext, _record_lock, current_context
from .._delivery import _outbox, flush
from .._recording import emit
from .._records import ErrorInfo
from ._extract import MISSING, Api, Usage, extract

__all__ = ["PendingCall", "drain_deferred", "has_deferred"]

logger = logging.getLogger("aiusage")

_deferred: deque[dict[str, Any]] = deque()
_at_exit_registered = threading.Event()

_NO_TOKENS = Usage("reported")


def has_deferred() -> bool:
    """Whether records made during garbage collection are waiting."""
    return bool(_deferred)


def drain_deferred() -> None:
    """Make the records that garbage collection had to postpone. Never raises."""
    while True:
        try:
            kwargs = _deferred.popleft()
        except IndexError:
            return
        _emit_now(kwargs)


def _drain_at_exit() -> None:
    drain_deferred()
    flush()


def _safe_to_emit_now() -> bool:
    """Whether a record can be made from a finalizer without risking a self-deadlock."""
    config = settings()
    return not (
        _record_lock.locked()
        or _outbox.lock.locked()
        or _settings_lock.locked()
        or config.pricer._lock.locked()
        # A flush would call sinks, which may hold their own (unknown) locks.
        or len(_outbox.pending) + 1 >= config.flush_every
    )


def _emit_now(kwargs: dict[str, Any]) -> None:
    try:
        if kwargs["context"] is None and current_context() is not None:
            # The call was made outside any context: keep it there even though it ends
            # inside one (emit would otherwise take the current context).
            contextvars.Context().run(functools.partial(emit, **kwargs))
        else:
            emit(**kwargs)
    except Exception:
        logger.exception("aiusage: recording an OpenAI %s call failed", kwargs.get("api"))


def _submit(kwargs: dict[str, Any], *, from_gc: bool) -> None:
    if from_gc and not _safe_to_emit_now():
        _deferred.append(kwargs)
        if not _at_exit_registered.is_set():
            _at_exit_registered.set()
            atexit.register(_drain_at_exit)
        return
    _emit_now(kwargs)


def _record(
    *,
    api: Api,
    provider: str,
    model: str,
    usage: Usage,
    error: ErrorInfo | None,
    latency_ms: float | None,
    service_tier: str | None,
    request_id: str | None,
    client_metadata: Mapping[str, Any] | None,
    call_metadata: Mapping[str, Any] | None,
    context: UsageContext | None,
    from_gc: bool = False,
) -> None:
    _submit(
        {
            "model": model,
            "provider": provider,
            "api": api,
            "input_tokens": usage.input_tokens,
            "cached_input_tokens": usage.cached_input_tokens,
            "cache_write_tokens": usage.cache_write_tokens,
            "output_tokens": usage.output_tokens,
            "reasoning_tokens": usage.reasoning_tokens,
            "input_audio_tokens": usage.input_audio_tokens,
            "output_audio_tokens": usage.output_audio_tokens,
            "usage_status": usage.status,
            "error": error,
            "latency_ms": latency_ms,
            "service_tier": service_tier,
            "request_id": request_id,
            "client_metadata": client_metadata,
            "call_metadata": call_metadata,
            "context": context,
        },
        from_gc=from_gc,
    )


def _failure_usage(exc: BaseException) -> Usage:
    # An HTTP error status means the API did no billable work: zero tokens, priced (so $0 for
    # a known model, unpriced for an unknown one). Anything else (connection dropped, timeout,
    # a stream broken midway, cancellation) may have been processed and billed: missing.
    return _NO_TOKENS if isinstance(exc, APIStatusError) else MISSING


class PendingCall:
    """What is known about one call until its record is made (exactly once)."""

    __slots__ = (
        "__weakref__",
        "_open",
        "api",
        "call_metadata",
        "client_metadata",
        "context",
        "final",
        "hide_usage_chunk",
        "inner",
        "provider",
        "request_id",
        "request_model",
        "started",
    )

    def __init__(
        self,
        *,
        api: Api,
        provider: str,
        request_model: str,
        client_metadata: Mapping[str, Any] | None,
        call_metadata: Mapping[str, Any] | None,
        context: UsageContext | None,
        started: float,
        hide_usage_chunk: bool = False,
    ) -> None:
        self.api: Api = api
        self.provider = provider
        self.request_model = request_model
        self.client_metadata = client_metadata
        self.call_metadata = call_metadata
        self.context = context
        self.started = started
        self.hide_usage_chunk = hide_usage_chunk
        self.request_id: str | None = None
        self.final: object = None
        """The object holding the usage: a response, a chat chunk, or a Responses event's
        response."""
        self.inner: Any = None
        """The SDK's own stream iterator, once the call's stream is instrumented."""
        # list.pop() is atomic: whoever pops the one item makes the record.
        self._open = [True]

    @property
    def done(self) -> bool:
        """Whether the record has been made."""
        return not self._open

    def _claim(self) -> bool:
        try:
            self._open.pop()
        except IndexError:
            return False
        return True

    def finish(self, exc: BaseException | None = None, *, from_gc: bool = False) -> None:
        """Make the record now (once): from :attr:`final` if set, else ``missing`` usage.

        ``exc`` is the exception that ended the call, if any. Never raises.
        """
        if not self._claim():
            return
        try:
            self._make_record(exc, from_gc=from_gc)
        except Exception:
            logger.exception("aiusage: recording an OpenAI %s call failed", self.api)

    def _make_record(self, exc: BaseException | None, *, from_gc: bool) -> None:
        error: ErrorInfo | None = None
        model: str | None = None
        service_tier: str | None = None
        if self.final is not None:
            found = extract(self.api, self.final)
            usage, model, service_tier = found.usage, found.model, found.service_tier
            if found.error is not None:
                error = ErrorInfo(type="ResponseFailed", message=found.error)
        else:
            usage = MISSING if exc is None else _failure_usage(exc)
        if exc is not None:
            error = ErrorInfo.from_exception(exc)
            request_id = getattr(exc, "request_id", None)
            if isinstance(request_id, str) and self.request_id is None:
                self.request_id = request_id
        _record(
            api=self.api,
            provider=self.provider,
            model=model or self.request_model,
            usage=usage,
            error=error,
            # Under garbage collection the end of the stream is not known.
            latency_ms=None if from_gc else (time.perf_counter() - self.started) * 1000.0,
            service_tier=service_tier,
            request_id=self.request_id,
            client_metadata=self.client_metadata,
            call_metadata=self.call_metadata,
            context=self.context,
            from_gc=from_gc,
        )

    def closed(self) -> None:
        """The response was closed: record now, unless the SDK's own stream iterator is
        closing it from inside (exhausted or failed), where the stream wrapper records."""
        inner = self.inner
        if inner is not None and (
            getattr(inner, "gi_running", False) or getattr(inner, "ag_running", False)
        ):
            return
        self.finish()

    def __del__(self) -> None:
        # A stream dropped before it ended. Must never raise (it may run at interpreter exit).
        try:
            if self._open:
                self.finish(from_gc=True)
        except BaseException:  # nothing may escape a finalizer
            pass
