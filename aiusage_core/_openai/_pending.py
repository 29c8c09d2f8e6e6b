"""One OpenAI call on its way to becoming a usage record, made exactly once.

A non-streaming call is recorded as soon as its response is parsed. A stream (or a raw
response whose body is read later) is recorded when it ends: exhausted, failed, closed, or
garbage-collected. :class:`PendingCall` holds what is known until then and records the call
the first time any of those happens; later ones find it recorded already.

Recording reads the usage out of the response at once (the response itself is never kept)
and *defers* the rest (pricing, the record, the totals: see :mod:`aiusage_core._delivery`),
so the call returns to its caller after a queue append. Deferring is also what makes a
finalizer safe: garbage collection may run inside any allocation, including one made while
this thread holds a lock of the recording machinery, and a queue append takes no lock.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Final

import httpx2
from openai import APIConnectionError, APIStatusError

from .._context import UsageContext
from .._counts import MISSING, Usage
from .._delivery import defer
from .._recording import emit
from .._records import ErrorInfo, UsageRecord
from .._reservations import Reservation
from ._extract import Api, extract

__all__ = ["PendingCall", "Started", "UnfinishedCall", "record_response"]

logger = logging.getLogger("aiusage")

_NO_TOKENS = Usage("reported")
_partial = functools.partial
_time = time.time
_perf_counter = time.perf_counter


Started = tuple[
    Api,
    str,
    str,
    Mapping[str, Any] | None,
    Mapping[str, Any] | None,
    UsageContext | None,
    float,
    bool,
]
"""What is known when a request is sent: the first eight arguments of :class:`PendingCall`
(API, provider, requested model, client metadata, call metadata, context, start time, hide
the usage chunk)."""


def record_response(
    started: Started, response: object, reservation: Reservation | None = None
) -> None:
    """Record a call from its parsed response, the common case, without a
    :class:`PendingCall` (this runs cache-cold after the SDK's work: every frame counts).

    Equivalent to ``call = PendingCall(*started); call.final = response; call.request_id =
    <the response's request id>; call.finish()``. Never raises.
    """
    api = started[0]
    try:
        usage, model, service_tier, failure = extract(api, response)
        request_id = getattr(response, "_request_id", None)
        defer(
            _partial(
                _record,
                (
                    usage,
                    model or started[2],
                    started[1],
                    api,
                    started[5],
                    _time(),
                    (_perf_counter() - started[6]) * 1000.0,
                    service_tier,
                    request_id if isinstance(request_id, str) else None,
                    None if failure is None else ErrorInfo("ResponseFailed", failure),
                    started[3],
                    started[4],
                ),
                *(() if reservation is None else (reservation,)),
            )
        )
    except Exception:
        logger.exception("aiusage: recording an OpenAI %s call failed", api)
        if reservation is not None:
            reservation.release(None)


def _record(args: tuple[Any, ...], reservation: Reservation | None = None) -> None:
    """Make the record of one call (when settling), then replace its reservation on the
    budgets above it by what it cost. Never raises."""
    record: UsageRecord | None = None
    try:
        record = emit(*args)
    except Exception:
        logger.exception("aiusage: recording an OpenAI %s call failed", args[3])
    if reservation is not None:
        reservation.release(record)


def _record_if_left(call: PendingCall, loops: int) -> None:
    """Record ``call`` unless its stream was iterated again since it was left (at a settle)."""
    if call.loops == loops:
        call.finish(unseen=True)


_NOTHING_BILLED: Final = Decimal(0)

_SENT: Final = (
    httpx2.ReadError,
    httpx2.ReadTimeout,
    httpx2.WriteError,
    httpx2.WriteTimeout,
    httpx2.RemoteProtocolError,
)
"""Transport errors raised once the request was (at least partly) on the wire."""


def _never_sent(exc: BaseException) -> bool:
    """Whether the request of the call that ``exc`` ended never left the process: the SDK's
    connection error, caused by anything but a transport error raised after sending (a
    refused or timed-out connection, a blocked network, a cassette with no answer)."""
    if not isinstance(exc, APIConnectionError):
        return False
    cause = exc.__cause__ or exc.__context__
    seen = 0
    while cause is not None and seen < 20:  # a bounded walk down the chain
        if isinstance(cause, _SENT):
            return False
        cause, seen = cause.__cause__ or cause.__context__, seen + 1
    return True


class PendingCall:
    """What is known about one call until its record is made (exactly once)."""

    __slots__ = (
        "_open",
        "api",
        "call_metadata",
        "client_metadata",
        "context",
        "final",
        "hide_usage_chunk",
        "inner",
        "loops",
        "provider",
        "request_id",
        "request_model",
        "reservation",
        "started",
    )

    def __init__(
        self,
        api: Api,
        provider: str,
        request_model: str,
        client_metadata: Mapping[str, Any] | None,
        call_metadata: Mapping[str, Any] | None,
        context: UsageContext | None,
        started: float,
        hide_usage_chunk: bool = False,
        reservation: Reservation | None = None,
    ) -> None:
        self.api: Api = api
        self.provider = provider
        self.request_model = request_model
        self.client_metadata = client_metadata
        self.call_metadata = call_metadata
        self.context = context
        self.started = started
        self.hide_usage_chunk = hide_usage_chunk
        self.reservation = reservation
        """What the call reserved on the budgets above its context, if any."""
        self.request_id: str | None = None
        self.final: object = None
        """The object holding the usage: a response, a chat chunk, or a Responses event's
        response."""
        self.inner: Any = None
        """The SDK's own stream iterator, once the call's stream is instrumented."""
        self.loops = 0
        """How many times the caller started iterating the call's stream."""
        # list.pop() is atomic: whoever pops the one item makes the record.
        self._open = [True]

    @property
    def done(self) -> bool:
        """Whether the record has been made."""
        return not self._open

    def finish(self, exc: BaseException | None = None, *, unseen: bool = False) -> None:
        """Record the call now (once): from :attr:`final` if set, else ``missing`` usage.

        ``exc`` is the exception that ended the call, if any. ``unseen``: the end of the call
        was not seen (its stream was garbage-collected or left unfinished), so there is no
        latency, and the record is only queued (a finalizer may run while this thread holds
        any lock). Never raises.
        """
        try:
            self._open.pop()
        except IndexError:
            return  # recorded already
        try:
            defer(_partial(_record, self._emit_args(exc, unseen), self.reservation), quiet=unseen)
        except Exception:
            logger.exception("aiusage: recording an OpenAI %s call failed", self.api)
            if self.reservation is not None:
                self.reservation.release(None)

    def _emit_args(self, exc: BaseException | None, unseen: bool) -> tuple[Any, ...]:
        latency_ms = None if unseen else (_perf_counter() - self.started) * 1000.0
        error: ErrorInfo | None = None
        model: str | None = None
        service_tier: str | None = None
        cost: Decimal | None = None
        if self.final is not None:
            usage, model, service_tier, failure = extract(self.api, self.final)
            if failure is not None:
                error = ErrorInfo("ResponseFailed", failure)
        elif exc is None:
            usage = MISSING
        elif isinstance(exc, APIStatusError):
            # An HTTP error status: the API did no billable work. Zero tokens, priced ($0 for
            # a known model; an unknown model stays unpriced, never a made-up $0).
            usage = _NO_TOKENS
        elif _never_sent(exc):
            # Nothing reached the API, whatever the model: a failed call, not unpriced spend.
            usage, cost = _NO_TOKENS, _NOTHING_BILLED
        else:
            # Dropped or timed out after sending, broken midway, cancelled: it may have been
            # processed and billed.
            usage = MISSING
        if exc is not None:
            error = ErrorInfo.from_exception(exc)
            request_id = getattr(exc, "request_id", None)
            if isinstance(request_id, str) and self.request_id is None:
                self.request_id = request_id
        return (
            usage,
            model or self.request_model,
            self.provider,
            self.api,
            self.context,
            _time(),
            latency_ms,
            service_tier,
            self.request_id,
            error,
            self.client_metadata,
            self.call_metadata,
            cost,
        )

    def left(self) -> None:
        """The caller stopped iterating the stream before its end (``break``, or an exception
        in the loop's body). The stream stays open, as the SDK leaves it, and may be read
        on: the call is recorded (usage ``missing``) when usage is next read, unless the
        caller starts iterating again before. Never raises."""
        if self._open:
            # Quiet: a generator's ``finally`` may run in the garbage collector.
            defer(_partial(_record_if_left, self, self.loops), quiet=True)

    def closed(self) -> None:
        """The response was closed: record now, unless the SDK's own stream iterator is
        closing it from inside (exhausted or failed), where the stream wrapper records."""
        inner = self.inner
        if inner is not None and (
            getattr(inner, "gi_running", False) or getattr(inner, "ag_running", False)
        ):
            return
        self.finish()


class UnfinishedCall(PendingCall):
    """A call that outlives its request (a stream, a raw response read later): also recorded
    when garbage-collected before anything else ended it. Other calls end at once and need
    no finalizer (which would run a Python frame at every deallocation)."""

    __slots__ = ()

    def __del__(self) -> None:
        # A stream dropped before it ended. Must never raise (it may run at interpreter exit).
        try:
            if self._open:
                self.finish(unseen=True)
        except BaseException:  # nothing may escape a finalizer
            pass
