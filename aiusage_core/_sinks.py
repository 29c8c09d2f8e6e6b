"""The sink protocol and the in-memory sink."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from ._records import UsageRecord, UsageTotals

__all__ = ["MemorySink", "Sink"]


@runtime_checkable
class Sink(Protocol):
    """Where records go. ``write`` receives each record exactly once.

    ``write`` may be called from several threads; implementations must be thread-safe.
    A ``write`` that raises is logged and its records are spooled and retried later, so a sink
    should raise rather than drop records it could not store.
    """

    def write(self, records: Sequence[UsageRecord]) -> None:
        """Store ``records``."""

    def close(self) -> None:
        """Release resources; called at interpreter exit for configured sinks."""


class MemorySink:
    """Keeps records in a list, for tests and notebooks.

    >>> sink = MemorySink()
    >>> with ai_usage_context("demo", sinks=[sink]):  # doctest: +SKIP
    ...     record_usage(model="gpt-4o-mini", input_tokens=10)
    >>> sink.totals.calls  # doctest: +SKIP
    1
    """

    def __init__(self) -> None:
        self._records: list[UsageRecord] = []
        self._lock = threading.Lock()
        self.closed = False

    def write(self, records: Sequence[UsageRecord]) -> None:
        """Append ``records``."""
        with self._lock:
            self._records.extend(records)

    def close(self) -> None:
        """Mark the sink closed (records stay readable)."""
        self.closed = True

    @property
    def records(self) -> list[UsageRecord]:
        """A copy of the records received so far, in order."""
        with self._lock:
            return list(self._records)

    @property
    def totals(self) -> UsageTotals:
        """Totals of the records received so far."""
        return UsageTotals.of(self.records)

    def clear(self) -> None:
        """Forget the records received so far."""
        with self._lock:
            self._records.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._records)
