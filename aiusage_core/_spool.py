"""Writing to a sink, with a fallback for failures.

This first version logs a failed write; the durable spool (records kept on disk and retried
on the next flush and at exit) replaces it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from ._records import UsageRecord
from ._sinks import Sink

logger = logging.getLogger("aiusage")


def write_or_spool(sink: Sink, records: Sequence[UsageRecord]) -> None:
    """Write ``records`` to ``sink``; log and keep going if it fails. Never raises."""
    try:
        sink.write(records)
    except Exception:
        logger.exception("aiusage: sink %r failed to write %d record(s)", sink, len(records))


def retry_all_spools() -> None:
    """Retry spooled records (nothing is spooled in this version)."""
