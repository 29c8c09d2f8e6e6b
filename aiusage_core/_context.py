"""Usage contexts: the one ``ContextVar``, attribution, and the context manager itself."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from contextvars import ContextVar, Token
from types import MappingProxyType, TracebackType
from typing import Any, TypeVar

from ._budget import Budget, BudgetStatus
from ._config import Settings, on_change, settings
from ._delivery import _later, _outbox, enqueue, flush, settle
from ._errors import ContextError
from ._limits import encodable
from ._metadata import merge_metadata, validate_metadata
from ._money import cost_text
from ._records import ErrorInfo, TotalsAccumulator, UsageRecord, UsageTotals, freeze_mapping
from ._reservations import BudgetState, charge
from ._sinks import Sink

__all__ = [
    "UsageContext",
    "ai_usage_context",
    "attribute",
    "batch_ai_usage_context",
    "context_factory",
    "current_context",
]

logger = logging.getLogger("aiusage")

F = TypeVar("F", bound=Callable[..., Any])

# The one piece of context state. Values are UsageContext objects; set and reset by token.
_current: ContextVar[UsageContext | None] = ContextVar("aiusage_current_context", default=None)

# Serialises updates of totals and record lists. Recording is rare next to entering and
# leaving contexts, so one lock beats allocating one per context.
_record_lock = threading.Lock()


class _Epoch:
    """Bumped whenever cached merged metadata may be stale (add_metadata, configure)."""

    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value = 0


_epoch = _Epoch()


class _Adoptive:
    """The open context that takes the usage of threads that inherited no context
    (``adopt_threads=True``), and the thread it was opened in."""

    __slots__ = ("context", "owner")

    def __init__(self) -> None:
        self.context: UsageContext | None = None
        self.owner = 0


_adoptive = _Adoptive()


def _adopt(child: UsageContext | None = None) -> UsageContext | None:
    """The adoptive context for a call (``child=None``) or a root context ``child`` begun in
    this thread with no context current, or ``None``. In the thread that opened the adoptive
    context, no current context means one was hidden on purpose: nothing is adopted there."""
    context = _adoptive.context
    if context is None or threading.get_ident() == _adoptive.owner:
        return None
    context._unpropagated(threading.current_thread().name, child)
    return context


def invalidate_metadata_caches() -> None:
    """Make every context recompute its merged metadata on next use."""
    _epoch.value += 1


on_change(before_configure=flush, before_restore=settle, after_change=invalidate_metadata_caches)


_NEW, _OPEN, _CLOSED = 0, 1, 2
_new_object = object.__new__
_NO_USAGE = UsageTotals()
_NO_METADATA: dict[str, Any] = {}


class UsageContext:
    """A span of work whose AI usage is counted together.

    Made by :func:`ai_usage_context`; a context manager (``with`` and ``async with``) that
    yields itself, and a decorator that opens a fresh copy around each call. A context may be
    entered once.
    """

    # No __slots__: class-level defaults let __init__ assign only what a context was given,
    # which keeps entering and leaving a context close to the cost of a bare ``with``. The
    # same reason makes ``path`` lazy: most contexts never make a record, so never need it.
    parent: UsageContext | None = None
    """The enclosing context when this one was entered, or ``None``."""
    batch: bool = False
    """Whether calls in this context are priced at Batch API rates."""
    _own: dict[str, Any] = _NO_METADATA  # replaced per instance, never mutated
    _sinks: tuple[Sink, ...] = ()
    _token: Token[UsageContext | None] | None = None
    _acc: TotalsAccumulator | None = None
    _records: list[UsageRecord] | None = None
    _records_dropped: int = 0
    _error: ErrorInfo | None = None
    _merged: Mapping[str, Any] | None = None
    _merged_epoch: int = -1
    _state: int = 0  # _NEW
    _path: tuple[str, ...] | None = None  # cached by the path property once entered
    _budget: BudgetState | None = None  # this context's own budget, if it was given one
    # The budgets of this context and its ancestors, outermost first: what a call below it
    # reserves on. Empty (the class default) for most contexts, so calls check it cheaply.
    _budgets: tuple[BudgetState, ...] = ()
    # Usage that reached this adoptive context without propagation: direct calls by thread
    # name, and the root contexts it adopted (their calls are counted when asked).
    _adopted_calls: dict[str, int] | None = None
    _adopted_contexts: list[tuple[str, UsageContext]] | None = None

    operation_type: str
    """What kind of work this is, e.g. ``"receipt_batch"``."""

    def __init__(
        self,
        operation_type: str,
        metadata: Mapping[str, Any] | None = None,
        *,
        sinks: Iterable[Sink] | None = None,
        batch: bool = False,
        budget: Budget | None = None,
    ) -> None:
        if not isinstance(operation_type, str) or not operation_type:
            raise ContextError(f"operation_type must be a non-empty string, not {operation_type!r}")
        if not encodable(operation_type):
            raise ContextError(
                f"operation_type {operation_type!r} holds a lone surrogate and cannot be "
                "encoded as UTF-8"
            )
        self.operation_type = operation_type
        if metadata:
            self._own = validate_metadata(metadata, f"context {operation_type!r}")
        if sinks:
            self._sinks = tuple(sinks)
        if batch:
            self.batch = True
        if budget is not None:
            self._give_budget(budget)

    def _unpropagated(self, thread: str, child: UsageContext | None) -> None:
        with _record_lock:
            if child is None:
                calls = self._adopted_calls
                if calls is None:
                    calls = self._adopted_calls = {}
                calls[thread] = calls.get(thread, 0) + 1
            else:
                if self._adopted_contexts is None:
                    self._adopted_contexts = []
                self._adopted_contexts.append((thread, child))

    @property
    def unpropagated(self) -> dict[str, int]:
        """Calls that reached this context without context propagation, by the name of the
        thread that made them (only on a context opened with ``adopt_threads=True``): calls
        made, and calls inside root contexts opened, in threads that inherited no context."""
        with _record_lock:
            found = dict(self._adopted_calls or {})
            adopted = list(self._adopted_contexts or ())
        for thread, child in adopted:
            calls = child.totals.calls
            if calls:
                found[thread] = found.get(thread, 0) + calls
        return found

    def _give_budget(self, budget: Budget) -> None:
        """Put ``budget`` on this context (before it is entered, or by the pytest plugin
        before anything runs below it)."""
        if not isinstance(budget, Budget):
            raise ContextError(
                f"budget must be an aiusage_core.Budget, not {type(budget).__name__} "
                f"({budget!r:.80})"
            )
        if self._budget is not None:
            raise ContextError(f"usage context {self.operation_type!r} has a budget already")
        state = BudgetState(budget, self)
        self._budget = state
        self._budgets = (*self._budgets, state)

    # -- entering and leaving -------------------------------------------------------------

    def _attach(self) -> None:
        """Open the context under the current one without making it current."""
        if self._state:
            raise self._reentered()
        parent = _current.get()
        if parent is None and _adoptive.context is not None:
            parent = _adopt(self)
        if parent is not None:
            self.parent = parent
            if parent.batch:
                self.batch = True
            if parent._budgets:
                self._budgets = parent._budgets + self._budgets
        self._state = _OPEN

    def _reentered(self) -> ContextError:
        return ContextError(
            f"usage context {self.operation_type!r} was already "
            f"{'entered' if self._state == _OPEN else 'used'}; a context can be entered "
            "once: call ai_usage_context(...) again for a new one"
        )

    def _detach(self, exc: BaseException | None) -> None:
        """Close the context: remember the exception that left it and deliver records."""
        self._state = _CLOSED
        if exc is not None and self._error is None:
            self._error = ErrorInfo.from_exception(exc)
        if _later or _outbox.pending:
            flush()

    def __enter__(self) -> UsageContext:
        # Inlined _attach: entering and leaving is the overhead every ``with`` pays.
        if self._state:
            raise self._reentered()
        parent = _current.get()
        if parent is None and _adoptive.context is not None:
            parent = _adopt(self)
        if parent is not None:
            self.parent = parent
            if parent.batch:
                self.batch = True
            if parent._budgets:
                self._budgets = parent._budgets + self._budgets
        self._state = _OPEN
        self._token = _current.set(self)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            _current.reset(self._token)  # type: ignore[arg-type]
        except (ValueError, TypeError):
            # Left in another contextvars.Context than it was entered in (e.g. an async
            # generator finalised by the event loop). Restore the parent there instead.
            logger.warning(
                "aiusage: usage context %r exited in a different context than it was "
                "entered in; restoring its parent",
                self.operation_type,
            )
            _current.set(self.parent)
        self._token = None
        # Inlined _detach: this path runs once per context and sets the overhead floor.
        self._state = _CLOSED
        if exc is not None and self._error is None:
            self._error = ErrorInfo.from_exception(exc)
        if _later or _outbox.pending:
            flush()

    async def __aenter__(self) -> UsageContext:
        return self.__enter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.__exit__(exc_type, exc, tb)

    def __call__(self, func: F) -> F:
        """Use the context as a decorator: each call runs in a fresh copy of it."""
        from ._decorator import track

        if self._state != _NEW:
            raise ContextError(
                f"usage context {self.operation_type!r} is in use and cannot decorate a function"
            )
        make_context = context_factory(
            self.operation_type,
            self._own,
            self._sinks,
            self.batch,
            None if self._budget is None else self._budget.budget,
        )
        return track(func, make_context)

    # -- reading --------------------------------------------------------------------------

    @property
    def path(self) -> tuple[str, ...]:
        """Operation types from the outermost context down to this one."""
        path = self._path
        if path is None:
            parent = self.parent
            path = (self.operation_type,) if parent is None else (*parent.path, self.operation_type)
            if self._state:  # the parent is known for good once the context is entered
                self._path = path
        return path

    @property
    def is_open(self) -> bool:
        """Whether the context has been entered and not yet exited."""
        return self._state == _OPEN

    @property
    def metadata(self) -> Mapping[str, Any]:
        """Metadata merged from the environment tags, every enclosing context and this one
        (read-only)."""
        merged = self._merged
        if merged is None or self._merged_epoch != _epoch.value:
            merged = self._compute_merged()
        return merged

    @property
    def own_metadata(self) -> Mapping[str, Any]:
        """The metadata given to this context alone (read-only)."""
        return MappingProxyType(self._own)

    def _compute_merged(self) -> Mapping[str, Any]:
        epoch = _epoch.value
        if self.parent is not None:
            base: Mapping[str, Any] = self.parent.metadata
        else:
            base = settings().environment_tags
        merged = freeze_mapping(merge_metadata(base, self._own))
        self._merged, self._merged_epoch = merged, epoch
        return merged

    def add_metadata(self, **metadata: Any) -> None:
        """Add (or replace) metadata on this context; later records carry it."""
        checked = validate_metadata(metadata, f"context {self.operation_type!r}.add_metadata")
        if _later:
            settle()  # calls that ended before now carry the metadata as it was
        with _record_lock:
            self._own = merge_metadata(self._own, checked)
        invalidate_metadata_caches()

    @property
    def records(self) -> list[UsageRecord]:
        """Records of this context and its descendants, in order (a copy).

        At most ``max_records_per_context`` are kept; see :attr:`records_dropped`.
        """
        if _later:
            settle()
        with _record_lock:
            return list(self._records) if self._records is not None else []

    @property
    def records_dropped(self) -> int:
        """Records counted in :attr:`totals` but not kept in :attr:`records` (over the cap)."""
        if _later:
            settle()
        return self._records_dropped

    @property
    def totals(self) -> UsageTotals:
        """Sums over every record of this context and its descendants."""
        if _later:
            settle()
        with _record_lock:
            return self._acc.snapshot() if self._acc is not None else _NO_USAGE

    @property
    def error(self) -> ErrorInfo | None:
        """The exception that left this context (type and message), or ``None``."""
        return self._error

    @property
    def budget(self) -> BudgetStatus | None:
        """A read-only view of the budget given to this context (what is spent, reserved
        and left), or ``None`` when it was given none. Budgets of enclosing contexts apply
        to its calls too; read them on those contexts."""
        return None if self._budget is None else BudgetStatus(self._budget)

    @property
    def sinks(self) -> tuple[Sink, ...]:
        """Sinks given to this context; they receive its records and its descendants'."""
        return self._sinks

    def __repr__(self) -> str:
        state = ("new", "open", "closed")[self._state]
        t = self.totals
        return (
            f"<UsageContext {'/'.join(self.path)!r} {state} calls={t.calls} "
            f"tokens={t.total_tokens} cost={cost_text(t)}>"
        )


def context_factory(
    operation_type: str,
    own: dict[str, Any],
    sinks: tuple[Sink, ...],
    batch: bool,
    budget: Budget | None = None,
) -> Callable[[], UsageContext]:
    """A maker of fresh contexts from parts validated once, for decorators.

    Each call skips ``__init__``'s checks and copies: that is most of the cost of opening a
    context per decorated call. ``own`` is shared, which is safe because contexts replace
    their ``_own``, never mutate it.
    """
    new = _new_object
    cls = UsageContext
    if budget is not None:

        def make_context() -> UsageContext:
            return UsageContext(operation_type, own, sinks=sinks, batch=batch, budget=budget)

    elif own or sinks or batch:

        def make_context() -> UsageContext:
            context: UsageContext = new(cls)
            context.operation_type = operation_type
            context._state = _NEW  # on the instance: see ai_usage_context
            if own:
                context._own = own
            if sinks:
                context._sinks = sinks
            if batch:
                context.batch = True
            return context

    else:

        def make_context() -> UsageContext:
            context: UsageContext = new(cls)
            context.operation_type = operation_type
            context._state = _NEW  # on the instance: see ai_usage_context
            return context

    return make_context


def current_context() -> UsageContext | None:
    """The innermost open usage context of the running thread or task, or ``None``."""
    return _current.get()


class _AdoptingContext(UsageContext):
    """A context opened with ``adopt_threads=True``: while it is open, calls and root
    contexts of other threads that inherited no context belong to it. A subclass, so that
    ordinary contexts pay nothing for it on entry and exit."""

    def _adopt_threads(self) -> None:
        _adoptive.owner = threading.get_ident()
        _adoptive.context = self

    def _release_threads(self) -> None:
        if _adoptive.context is self:
            _adoptive.context = None

    def _attach(self) -> None:
        super()._attach()
        self._adopt_threads()

    def _detach(self, exc: BaseException | None) -> None:
        self._release_threads()
        super()._detach(exc)

    def __enter__(self) -> UsageContext:
        super().__enter__()
        self._adopt_threads()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._release_threads()
        super().__exit__(exc_type, exc, tb)


def ai_usage_context(
    operation_type: str,
    *,
    sinks: Iterable[Sink] | None = None,
    budget: Budget | None = None,
    adopt_threads: bool = False,
    **metadata: Any,
) -> UsageContext:
    """Open a usage context: every AI call inside it is counted on it and its ancestors.

    Works with ``with``, ``async with`` and as a decorator::

        with ai_usage_context("receipt_batch", job_id="job-123") as usage:
            label_receipts(client, batch)
        print(usage.totals.cost_usd)

    ``sinks`` receive this context's records (and its descendants') in addition to the
    configured ones. ``budget`` (a :class:`~aiusage_core.Budget`) limits what the calls below
    the context may spend; a call that would go over it is refused before it is sent.
    Metadata must be JSON-serialisable; it merges down the nesting.

    ``adopt_threads=True`` (off by default; the pytest plugin turns it on for each test):
    while the context is open, a call made or a root context opened in *another* thread that
    inherited no context belongs to it instead of to no context, and is listed in
    :attr:`UsageContext.unpropagated` by thread name, so that it can be fixed with
    :func:`propagate` or :class:`ContextThreadPoolExecutor`. One context adopts at a time.
    """
    if (
        metadata
        or sinks
        or adopt_threads
        or budget is not None
        or type(operation_type) is not str
        or not operation_type
        or not operation_type.isascii()  # __init__ checks it can be encoded
    ):
        kind = _AdoptingContext if adopt_threads else UsageContext
        return kind(operation_type, metadata, sinks=sinks, budget=budget)
    # The common case, built without a call to __init__ (whose other branches it would skip
    # anyway): that call is a fifth of what a bare ``with ai_usage_context(...)`` costs.
    context: UsageContext = _new_object(UsageContext)
    context.operation_type = operation_type
    # Set on the instance although the class has the same default: __enter__ reads it, and a
    # read that falls through to the class goes through the type's method cache, whose
    # collisions depend on the process's hash seed (up to +40% on enter+exit in some runs).
    context._state = _NEW
    return context


def batch_ai_usage_context(
    batch_id: str,
    operation_type: str = "batch_processing",
    *,
    sinks: Iterable[Sink] | None = None,
    budget: Budget | None = None,
    adopt_threads: bool = False,
    **metadata: Any,
) -> UsageContext:
    """A usage context whose calls are priced at Batch API rates (records say ``batch=True``).

    ``batch_id`` is added to the metadata; ``budget`` and ``adopt_threads`` as for
    :func:`ai_usage_context`.
    """
    kind = _AdoptingContext if adopt_threads else UsageContext
    return kind(
        operation_type,
        {**metadata, "batch_id": batch_id},
        sinks=sinks,
        batch=True,
        budget=budget,
    )


def attribute(record: UsageRecord, context: UsageContext | None, config: Settings) -> None:
    """Count ``record`` on ``context`` and its ancestors and queue it for delivery."""
    sinks = config.sinks
    cap = config.max_records_per_context
    with _record_lock:
        node = context
        while node is not None:
            acc, kept = node._acc, node._records
            if acc is None or kept is None:
                acc, kept = node._acc, node._records = TotalsAccumulator(), []
            acc.add(record)
            if cap is None or len(kept) < cap:
                kept.append(record)
            else:
                if not node._records_dropped:
                    logger.warning(
                        "aiusage: context %r keeps at most %d records; later ones are counted "
                        "in its totals but not kept in .records (see records_dropped)",
                        "/".join(node.path),
                        cap,
                    )
                node._records_dropped += 1
            if node._sinks:
                sinks = (*sinks, *(s for s in node._sinks if s not in sinks))
            node = node.parent
    if context is not None and context._budgets:
        charge(context._budgets, record)
    enqueue(record, sinks, config.flush_every)
