"""The JSON Lines sink: one JSON object per record, appended to a file.

Several processes may append to one file at once. Each ``write`` becomes whole lines written
by a single ``os.write`` on a descriptor opened with ``O_APPEND``, under an exclusive
``flock`` where the platform has one: appends from different processes never interleave
inside a line, even when the kernel splits a large write.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
import time
from collections.abc import Iterator, Sequence
from typing import Any

from ._records import UsageRecord

try:  # POSIX only; O_APPEND alone keeps small appends whole elsewhere.
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = ["JsonlSink", "append_lines", "dump_lines", "read_jsonl"]

logger = logging.getLogger("aiusage")

_encoder = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def dump_lines(records: Sequence[UsageRecord]) -> bytes:
    """``records`` as UTF-8 JSON lines (``Decimal`` as an exact string), each ending in ``\\n``."""
    encode = _encoder.encode
    return "".join([encode(r.to_dict()) + "\n" for r in records]).encode("utf-8")


def read_jsonl(path: str | os.PathLike[str]) -> Iterator[dict[str, Any]]:
    """The JSON objects of a JSON Lines file, skipping blank lines.

    A line that is not JSON is the trace of a writer killed mid-write (later writers start
    on a fresh line, so it may sit anywhere): it is skipped with a warning rather than
    making the whole file unreadable.
    """
    with open(path, "rb") as file:
        for number, raw in enumerate(file, 1):
            if not raw.strip():
                continue
            try:
                value = json.loads(raw)
            except ValueError:
                logger.warning("aiusage: %s: skipping damaged line %d", path, number)
                continue
            if isinstance(value, dict):
                yield value


def _last_byte(fd: int, size: int) -> bytes:
    if hasattr(os, "pread"):
        return os.pread(fd, 1, size - 1)
    return b"\n"  # pragma: no cover - no pread (Windows): cannot check without a seek


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _lock(fd: int, timeout: float | None) -> None:
    """Take the exclusive ``flock`` of ``fd``, waiting at most ``timeout`` seconds."""
    if timeout is None:
        fcntl.flock(fd, fcntl.LOCK_EX)
        return
    deadline = time.monotonic() + timeout
    pause = 0.001
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() >= deadline:
                raise TimeoutError(
                    f"the file stayed locked by another process for {timeout:g} s"
                ) from None
        time.sleep(pause)  # flock has no timed wait: poll, less and less often
        pause = min(pause * 2, 0.05)


def append_lines(
    fd: int, data: bytes, *, fsync: bool = False, lock_timeout: float | None = None
) -> None:
    """Append whole lines to the ``O_APPEND`` descriptor ``fd`` under an exclusive ``flock``
    (waiting at most ``lock_timeout`` seconds for it, then raising :class:`TimeoutError`).

    All or nothing: a write cut short (a full disk) is truncated away before the error is
    raised, so retrying the same lines never leaves any of them twice.
    """
    if fcntl is not None:
        _lock(fd, lock_timeout)
    try:
        size = os.fstat(fd).st_size
        # A writer killed mid-line left a partial line: start on a fresh line so only the
        # damaged one is lost.
        if size and _last_byte(fd, size) != b"\n":
            data = b"\n" + data
        try:
            _write_all(fd, data)
            if fsync:
                os.fsync(fd)
        except BaseException:
            # Every writer appends under the lock we hold, so the file still ends where our
            # write began: cut it back there.
            with contextlib.suppress(OSError):
                os.ftruncate(fd, size)
            raise
    finally:
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_UN)


class JsonlSink:
    """Appends each record as one JSON object per line (JSON Lines) to ``path``.

    The file and its folder are created on the first write. Money is written as an exact
    decimal string (``"cost_usd": "0.000150"``) and read back exactly::

        sink = JsonlSink("usage.jsonl")
        configure(sinks=[sink])
        ...
        records = list(JsonlSink.read("usage.jsonl"))

    ``fsync=True`` makes every write reach the disk before ``write`` returns (survives an
    operating-system crash, at the cost of one disk flush per batch); without it a record is
    safe from the process being killed as soon as ``write`` returns.

    A write is all or nothing: one cut short (a full disk) is truncated away and raises, and
    its records are spooled and retried whole. ``lock_timeout`` is how long a write waits for
    another process's lock on the file (default: half of ``sink_timeout``, so the write gives
    up, and its records are spooled once, before the caller stops waiting for it).
    """

    dedupes_by_record_id = False
    """Appending the same record twice stores it twice (readers may dedupe by ``record_id``)."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        fsync: bool = False,
        lock_timeout: float | None = None,
    ) -> None:
        self.path = os.path.abspath(os.fspath(path))
        self.fsync = fsync
        self.lock_timeout = lock_timeout
        self._lock = threading.Lock()
        self._fd: int | None = None
        self._pid = 0

    @property
    def spool_key(self) -> str:
        """Identifies the destination, so a spool can be resumed by a later process."""
        return f"jsonl:{self.path}"

    def _descriptor(self) -> int:
        # A descriptor inherited through fork shares its flock with the parent, which would
        # let both processes into the critical section at once: reopen in the child.
        if self._fd is None or self._pid != os.getpid():
            folder = os.path.dirname(self.path)
            if folder:
                os.makedirs(folder, exist_ok=True)
            self._fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
            self._pid = os.getpid()
        return self._fd

    def write(self, records: Sequence[UsageRecord]) -> None:
        """Append ``records``, one line each."""
        if not records:
            return
        data = dump_lines(records)
        timeout = self.lock_timeout
        if timeout is None:
            from ._config import settings

            timeout = settings().sink_timeout / 2
        if not self._lock.acquire(timeout=timeout):
            raise TimeoutError(f"{self.path}: another write of this process is stuck")
        try:
            append_lines(self._descriptor(), data, fsync=self.fsync, lock_timeout=timeout)
        except TimeoutError as exc:
            raise TimeoutError(f"{self.path}: {exc}") from None
        finally:
            self._lock.release()

    def close(self) -> None:
        """Close the file (a later ``write`` reopens it)."""
        # A write waiting for another process's lock holds ours: at interpreter exit that
        # must not hold the process.
        if not self._lock.acquire(timeout=1.0):
            return
        try:
            if self._fd is not None and self._pid == os.getpid():
                os.close(self._fd)
            self._fd = None
        finally:
            self._lock.release()

    @staticmethod
    def read(path: str | os.PathLike[str]) -> Iterator[UsageRecord]:
        """The records of a JSON Lines file written by :class:`JsonlSink`, in file order."""
        for data in read_jsonl(path):
            yield UsageRecord.from_dict(data)

    def __repr__(self) -> str:
        return f"JsonlSink({self.path!r})"
