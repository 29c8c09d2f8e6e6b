"""One provider call on its way to becoming a usage record, made exactly once.

Provider-neutral: this module imports no SDK. A provider adapter
(:class:`aiusage_core._providers.Provider`) says how to read a response, a stream item and
an error; the engine here decides *when* a call is recorded.

A call starts as a :class:`CallStart`: everything known once its request is built and
before it is sent (the provider, API, requested model, metadata, context, start time). It is
the one place where every provider's call is known before it is sent; budgets reserve there
(:func:`reserve`), before the request goes out.

A non-streaming call is recorded as soon as its response is parsed. A stream (or a raw
response whose body is read later) is recorded when it ends: exhausted, failed, closed, or
garbage-collected. :class:`PendingCall` holds what is known until then and records the call
the first time any of those happens; later ones find it recorded already.

Some calls report their usage in a *later* response: an OpenAI background response is
answered ``queued``, and its usage arrives when a poll (``responses.retrieve``) finds it
finished. Such a call is not recorded at its start: it waits in :data:`_awaiting` under the
key the adapter names (:meth:`~aiusage_core._providers.Provider.later`), and the first
tracked response that finishes it (:meth:`~aiusage_core._providers.Provider.finished`)
makes its record, once, in the context it was started in.

Recording reads the usage out of the response at once (the response itself is never kept)
and *defers* the rest (pricing, the record, the totals: see :mod:`aiusage_core._delivery`),
so the call returns to its caller after a queue append. Deferring is also what makes a
finalizer safe: garbage collection may run inside any allocation, including one made while
this thread holds a lock of the recording machinery, and a queue append takes no lock.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from ._context import UsageContext
from ._counts import MISSING
from ._delivery import defer
from ._estimate import CallEstimate
from ._recording import RecordInput, emit
from ._records import ErrorInfo, UsageRecord
from ._reservations import Reservation
from ._reservations import reserve as reserve_on_budgets

if TYPE_CHECKING:
    from ._providers import Provider

__all__ = [
    "CallStart",
    "PendingCall",
    "UnfinishedCall",
    "finish_awaited",
    "record_response",
    "reserve",
]

logger = logging.getLogger("aiusage")

_partial = functools.partial
_time = time.time
_perf_counter = time.perf_counter


class CallStart:
    """What is known when a request is about to be sent, for every provider.

    Made once per tracked call, before sending; :func:`reserve` checks it against the
    budgets above its context. Its fields never change afterwards, except
    :attr:`reservation`, set by :func:`reserve`.
    """

    __slots__ = (
        "adapter",
        "api",
        "batch",
        "call_metadata",
        "client_metadata",
        "context",
        "hide_usage_item",
        "model",
        "provider",
        "reservation",
        "started",
    )

    def __init__(
        self,
        adapter: Provider,
        api: str,
        provider: str,
        model: str,
        *,
        context: UsageContext | None,
        client_metadata: Mapping[str, Any] | None = None,
        call_metadata: Mapping[str, Any] | None = None,
        hide_usage_item: bool = False,
        batch: bool = False,
    ) -> None:
        self.adapter = adapter
        """The provider adapter that reads the call's responses."""
        self.api = api
        """The API called (``chat``, ``responses``, ``messages``, ...)."""
        self.provider = provider
        """The provider to record and price under, as genai-prices names it."""
        self.model = model
        """The requested model (``"unknown"`` when the request names none)."""
        self.context = context
        """The innermost usage context when the call started, or ``None``."""
        self.client_metadata = client_metadata
        """The client's default metadata."""
        self.call_metadata = call_metadata
        """Metadata the caller put on this request."""
        self.hide_usage_item = hide_usage_item
        """Whether the stream's usage-only item was asked for by us (and is hidden)."""
        self.batch = batch
        """Whether the call is a Batch API's: a request for its results reserves nothing,
        and each call it lists is recorded at batch rates."""
        self.started = _perf_counter()
        """``time.perf_counter()`` when the call started."""
        self.reservation: Reservation | None = None
        """What the call reserved on the budgets above its context, if any."""


def reserve(start: CallStart, body: object, extra: Mapping[str, Any] | None) -> None:
    """Reserve the worst case of ``start``'s request (its JSON ``body`` and ``extra`` JSON) on
    every budget above its context, before the request is sent: the one budget check of every
    provider. Raises :class:`~aiusage_core.BudgetExceededError` when a hard budget refuses.

    The adapter estimates the body as it will be sent: without the parameters the caller
    did not give (the SDK's placeholders, :attr:`SdkTypes.omitted`, which it drops when
    sending)."""
    context = start.context
    if context is None or not context._budgets or start.batch:
        # A Batch API's results were run (and billed) already: they are charged when
        # recorded, never refused.
        return
    omitted = start.adapter.sdk.omitted
    if omitted and type(body) is dict:
        body = {key: value for key, value in body.items() if type(value) not in omitted}
    try:
        estimate = start.adapter.estimate(start, body, extra)
    except Exception:
        # A request the adapter cannot read is still checked: its input and output are
        # bounded only by the model's context window (refused by ``refuse_unbounded``).
        logger.exception(
            "aiusage: reading an %s %s request for its budget failed", start.adapter.name, start.api
        )
        estimate = CallEstimate(
            start.provider,
            start.model,
            start.api,
            0,
            None,
            1,
            "a request body aiusage could not read (logged)",
        )
    start.reservation = reserve_on_budgets(context, estimate)


def record_response(start: CallStart, response: object) -> None:
    """Record a call from its parsed response, the common case, without a
    :class:`PendingCall` (this runs cache-cold after the SDK's work: every frame counts).

    Equivalent to ``call = PendingCall(start); call.final = response; call.request_id =
    <the response's request id>; call.finish()``. Never raises.
    """
    try:
        usage, model, service_tier, failure = start.adapter.read(start.api, response)
        request_id = getattr(response, "_request_id", None)
        if usage is MISSING and failure is None:
            key = start.adapter.later(start.api, response)
            if key is not None:  # its usage comes with a later response: wait for it
                _await(key, start, request_id if isinstance(request_id, str) else None)
                return
        defer(
            _partial(
                _record,
                RecordInput(
                    usage,
                    model or start.model,
                    start.provider,
                    start.api,
                    start.context,
                    _time(),
                    (_perf_counter() - start.started) * 1000.0,
                    service_tier,
                    request_id if isinstance(request_id, str) else None,
                    None if failure is None else ErrorInfo("ResponseFailed", failure),
                    start.client_metadata,
                    start.call_metadata,
                    None,
                    start.batch,
                ),
                start,
            )
        )
    except Exception:
        logger.exception("aiusage: recording %s", _describe(start))
        if start.reservation is not None:
            start.reservation.release(None)


MAX_AWAITING = 10_000
"""How many calls may wait for a later response at once; past it the oldest is recorded
with ``missing`` usage rather than kept without end."""


class _Awaiting:
    """Calls whose usage arrives with a later response, by the adapter's key, oldest first."""

    __slots__ = ("calls", "lock")

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.calls: OrderedDict[str, PendingCall] = OrderedDict()


_awaiting = _Awaiting()


def _await(key: str, start: CallStart, request_id: str | None) -> None:
    call = PendingCall(start)
    call.request_id = request_id
    with _awaiting.lock:
        _awaiting.calls[key] = call
        oldest = (
            _awaiting.calls.popitem(last=False)[1] if len(_awaiting.calls) > MAX_AWAITING else None
        )
    if oldest is not None:
        logger.warning(
            "aiusage: more than %d calls wait for their usage in a later response; the "
            "oldest is recorded with usage_status='missing'",
            MAX_AWAITING,
        )
        oldest.finish()


def finish_awaited(adapter: Provider, response: object) -> None:
    """Record the awaited call that ``response`` (of an untracked request, e.g. a poll)
    finishes, if any: once, from ``response``, in the context the call started in. Cheap
    when nothing waits. Never raises."""
    if not _awaiting.calls:
        return
    try:
        key = adapter.finished(response)
        if key is None:
            return
        with _awaiting.lock:
            call = _awaiting.calls.pop(key, None)
        if call is not None:
            call.final = response
            call.finish()
    except Exception:
        logger.exception("aiusage: recording the usage of a finished %s call", adapter.name)


def _describe(start: CallStart) -> str:
    return f"an {start.adapter.name} {start.api} call failed"


def _record(values: RecordInput, start: CallStart) -> None:
    """Make the record of one call (when settling), then replace its reservation on the
    budgets above it by what it cost. Never raises."""
    record: UsageRecord | None = None
    try:
        record = emit(values)
    except Exception:
        logger.exception("aiusage: recording %s", _describe(start))
    if start.reservation is not None:
        start.reservation.release(record)


def _record_if_left(call: PendingCall, loops: int) -> None:
    """Record ``call`` unless its stream was iterated again since it was left (at a settle)."""
    if call.loops == loops:
        call.finish(unseen=True)


class PendingCall:
    """What is known about one call until its record is made (exactly once)."""

    __slots__ = ("_open", "final", "inner", "loops", "request_id", "start")

    def __init__(self, start: CallStart) -> None:
        self.start = start
        """What was known when the call started."""
        self.request_id: str | None = None
        self.final: object = None
        """The object holding the usage, as the adapter reads it: a response, a stream item,
        or what the adapter gathered from the stream's items."""
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
        start = self.start
        try:
            defer(_partial(_record, self._values(exc, unseen), start), quiet=unseen)
        except Exception:
            logger.exception("aiusage: recording %s", _describe(start))
            if start.reservation is not None:
                start.reservation.release(None)

    def _values(self, exc: BaseException | None, unseen: bool) -> RecordInput:
        start = self.start
        latency_ms = None if unseen else (_perf_counter() - start.started) * 1000.0
        error: ErrorInfo | None = None
        model: str | None = None
        service_tier: str | None = None
        cost: Decimal | None = None
        if self.final is not None:
            usage, model, service_tier, failure = start.adapter.read(start.api, self.final)
            if failure is not None:
                error = ErrorInfo("ResponseFailed", failure)
        elif exc is None:
            usage = MISSING
        else:
            usage, cost = start.adapter.failure(exc)
        if exc is not None:
            error = ErrorInfo.from_exception(exc)
            request_id = getattr(exc, "request_id", None)
            if isinstance(request_id, str) and self.request_id is None:
                self.request_id = request_id
        return RecordInput(
            usage,
            model or start.model,
            start.provider,
            start.api,
            start.context,
            _time(),
            latency_ms,
            service_tier,
            self.request_id,
            error,
            start.client_metadata,
            start.call_metadata,
            cost,
            start.batch,
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
