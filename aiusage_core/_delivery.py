"""Delivery: every record reaches every sink it is meant for exactly once.

Records of OpenAI calls are first *deferred*: the call queues what its record needs (a few
numbers and strings, never the response) and the record is made, priced and counted later,
in a batch, by :func:`settle`. Whoever looks settles first: reading a context's totals or
records, leaving a context, ``add_metadata``, :func:`flush`, :func:`~aiusage_core.configure`,
a hand-made record, a fork, and interpreter exit; a call settles itself when
``SETTLE_EVERY`` wait or when record listeners (the pytest plugin) are installed. So no
reader ever sees a stale figure, and the per-call work right after a response arrives
(when the CPU caches hold the SDK's data, not ours) is a queue append. Making the records
of a hundred calls in a row costs a fraction of making each one cold.

Records wait in one process-wide outbox. The outbox is flushed when any usage context exits,
when it holds ``flush_every`` records, on :func:`flush`, and at interpreter exit. The outbox
is a ``deque``: appending and taking out (``popleft``) are atomic, so queuing a record takes
no lock (it runs once per record) and concurrent flushes split the pending records between
them, never delivering one twice. A sink that raises is logged on the ``aiusage`` logger and
never raises into the caller.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
from collections import deque
from collections.abc import Callable, Sequence

from ._records import UsageRecord
from ._sinks import Sink

__all__ = [
    "SETTLE_EVERY",
    "add_listener",
    "defer",
    "deliver",
    "enqueue",
    "flush",
    "register_at_exit",
    "remove_listener",
    "settle",
]

logger = logging.getLogger("aiusage")

Listener = Callable[[UsageRecord], None]


class _Outbox:
    __slots__ = ("atexit_registered", "exited", "listeners", "lock", "pending")

    def __init__(self) -> None:
        self.lock = threading.Lock()  # guards listeners and keeps flushed batches whole
        self.pending: deque[tuple[UsageRecord, tuple[Sink, ...]]] = deque()
        self.listeners: tuple[Listener, ...] = ()
        self.atexit_registered = False
        self.exited = False


_outbox = _Outbox()

SETTLE_EVERY = 100
"""Deferred records that make the call adding the last one settle them all."""

_later: deque[Callable[[], object]] = deque()
"""Deferred records, oldest first: each item makes, prices and counts one record."""
# Held while settling, so records are counted in the order their calls ended (a reentrant
# lock: settling counts records, which may flush, which settles).
_settle_lock = threading.RLock()


def defer(make: Callable[[], object], *, quiet: bool = False) -> None:
    """Queue ``make`` (it makes one record when called), then settle if ``SETTLE_EVERY``
    wait or record listeners are installed.

    ``quiet=True`` only queues, which takes no lock: for finalizers, which may run while
    this thread holds any lock.
    """
    _later.append(make)
    if not _outbox.atexit_registered:
        register_at_exit()
    if not quiet and (len(_later) >= SETTLE_EVERY or _outbox.listeners):
        settle()


def settle() -> None:
    """Make every deferred record now, oldest first. Never raises."""
    if not _later:
        return
    take = _later.popleft
    with _settle_lock:
        while True:
            try:
                make = take()
            except IndexError:
                return
            try:
                make()
            except Exception:
                logger.exception("aiusage: making a deferred usage record failed")


def _reset_after_fork() -> None:
    global _settle_lock
    _settle_lock = threading.RLock()  # another thread may have held it at the fork
    _outbox.lock = threading.Lock()
    # The parent delivers what it made before the fork; the child starts with an empty
    # outbox, or both processes would deliver those records (JSONL, OpenTelemetry and
    # custom sinks would count them twice). ``_later`` is empty unless another thread
    # queued a call between the settle below and the fork: that call is the parent's too.
    _outbox.pending.clear()
    _later.clear()


if hasattr(os, "register_at_fork"):
    # Calls that ended before a fork are counted before it, as if made at once: otherwise
    # both processes would make (and deliver) their records.
    os.register_at_fork(before=settle, after_in_child=_reset_after_fork)


def add_listener(listener: Listener) -> None:
    """Call ``listener(record)`` synchronously for every new record (used by the plugin)."""
    with _outbox.lock:
        _outbox.listeners = (*_outbox.listeners, listener)


def remove_listener(listener: Listener) -> None:
    """Stop calling ``listener``.

    Compared with ``==``, not ``is``: a bound method is a new object at every attribute
    access, so ``remove_listener(self.on_record)`` must match the one added earlier.
    """
    with _outbox.lock:
        _outbox.listeners = tuple(x for x in _outbox.listeners if x != listener)


def enqueue(record: UsageRecord, sinks: tuple[Sink, ...], flush_every: int) -> None:
    """Queue ``record`` for ``sinks`` and tell the listeners; never raises."""
    for listener in _outbox.listeners:
        try:
            listener(record)
        except Exception:
            logger.exception("aiusage: record listener %r failed", listener)
    if not sinks:
        return
    pending = _outbox.pending
    pending.append((record, sinks))
    if not _outbox.atexit_registered:
        register_at_exit()
    if len(pending) >= flush_every:
        flush()


def register_at_exit() -> None:
    """Make the deferred records and deliver the pending ones at interpreter exit.

    Takes no lock, so that a finalizer may call it whatever this thread holds: two threads
    racing here may both register the exit hook, whose second run then does nothing.
    """
    if not _outbox.atexit_registered:
        _outbox.atexit_registered = True
        atexit.register(_at_exit)


def has_pending() -> bool:
    """Whether records wait for delivery."""
    return bool(_outbox.pending)


def flush() -> None:
    """Make the deferred records and deliver every pending record now. Never raises."""
    if _later:
        settle()
    pending = _outbox.pending
    if not pending:
        return
    # Take out what is there now (producers may keep appending meanwhile). The deque is never
    # replaced: a producer holding it could otherwise append to one nobody flushes. The lock
    # keeps each flush's batch contiguous, so a sink sees records in the order they were made.
    take = pending.popleft
    with _outbox.lock:  # only flushes take records out, so len(pending) cannot shrink here
        batch = [take() for _ in range(len(pending))]
    by_sink: dict[int, tuple[Sink, list[UsageRecord]]] = {}
    # Consecutive records usually share one sinks tuple (the configured sinks): look their
    # lists up once per run of the same tuple, not once per record and sink.
    run: tuple[Sink, ...] | None = None
    lists: list[list[UsageRecord]] = []
    for record, sinks in batch:
        if sinks is not run:
            run = sinks
            lists = [by_sink.setdefault(id(sink), (sink, []))[1] for sink in sinks]
        for records in lists:
            records.append(record)
    for sink, records in by_sink.values():
        deliver(sink, records)
    from ._spool import has_spooled, retry_all_spools

    if has_spooled():  # sinks that got nothing new still get their spooled records retried
        retry_all_spools(exclude=[sink for sink, _ in by_sink.values()])


def deliver(sink: Sink, records: Sequence[UsageRecord]) -> None:
    """Write ``records`` to ``sink``; a failure is handed to the spool, never raised."""
    from ._spool import write_or_spool

    write_or_spool(sink, records)


def _at_exit() -> None:
    if _outbox.exited:
        return
    _outbox.exited = True
    flush()
    from ._config import settings
    from ._spool import retry_all_spools

    retry_all_spools(final=True)
    for sink in settings().sinks:
        try:
            sink.close()
        except Exception:
            logger.exception("aiusage: closing sink %r failed", sink)
