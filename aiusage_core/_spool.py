"""Writing to sinks with a deadline, and the spool that keeps what a sink could not take.

Every sink gets a *channel*: a worker thread that performs its writes one at a time, and a
spool file. The caller hands a batch to the worker and waits at most
``settings().sink_timeout`` seconds:

- the write succeeds: done;
- the write raises: the worker appends the batch to the spool file;
- the deadline passes: the caller appends the batch to the spool file itself and returns,
  while the worker is left with the slow write. Until that write ends, later batches for the
  sink go straight to the spool instead of queueing behind it.

Spooled records are retried, before any new batch, on the next flush and at interpreter
exit; the spool file also outlives the process (a later process writing to the same
destination adopts the spool of a dead one). A transient failure therefore loses nothing.

No duplicates. A timed-out write may still complete after its records were spooled. The
worker then appends a *delivered* marker with their ids to the spool, and retries skip
marked records: even a sink that stores whatever it is given (``JsonlSink``) receives each
record once. Only a process killed between the late write and its marker can leave such
records spooled; sinks keyed by ``record_id`` (``SQLiteSink``, ``dedupes_by_record_id =
True``) ignore the repeat, others may see it once more (at least once to the spool, exactly
once by id).

Reporting. The first failure of a sink is a warning (with the spool's path); a failure that
lasts (``PERMANENT_AFTER`` consecutive failures, or records still spooled at exit) is
reported once as an error naming the spool, and a recovery once as info.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import queue
import re
import tempfile
import threading
import time
from collections.abc import Iterable, Sequence
from typing import Any

from ._jsonl import append_lines, dump_lines, read_jsonl
from ._records import UsageRecord
from ._sinks import MemorySink, Sink

__all__ = ["retry_all_spools", "spool_path", "wait_until_idle", "write_or_spool"]

logger = logging.getLogger("aiusage")

PERMANENT_AFTER = 5
"""Consecutive failed attempts after which a sink's failure is reported as permanent."""
RETRY_CHUNK = 5_000
"""Spooled records retried per ``write`` call, so a long spool is replayed in bounded steps."""
_IDLE_SECONDS = 5.0  # an idle worker thread exits after this long


def _spool_key(sink: Sink) -> str:
    key = getattr(sink, "spool_key", None)
    if isinstance(key, str) and key:
        return key
    # No stable identity: the spool belongs to this sink object alone (the channel holds a
    # reference to the sink, so its id cannot be reused while the channel exists).
    return f"{type(sink).__module__}.{type(sink).__qualname__}@{id(sink):x}"


def _spool_dir() -> str:
    from ._config import settings

    configured = settings().spool_dir
    if configured:
        return configured
    try:
        user = str(os.getuid())
    except AttributeError:  # pragma: no cover - Windows
        import getpass

        user = re.sub(r"[^A-Za-z0-9_.-]", "_", getpass.getuser())
    return os.path.join(tempfile.gettempdir(), f"aiusage-spool-{user}")


def _file_stem(sink: Sink, key: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", type(sink).__name__.lower()).strip("-") or "sink"
    return f"{slug}-{hashlib.sha256(key.encode()).hexdigest()[:16]}"


def _pid_alive(pid: int) -> bool:
    if os.name == "nt":  # pragma: no cover - os.kill(pid, 0) would not probe on Windows
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class _Job:
    # ``abandoned`` (set by the caller) and ``settled`` (set by the worker once the records
    # are stored or spooled) change only under the channel's lock: whichever comes first
    # decides who spools the records, so they are spooled once or not at all.
    __slots__ = ("abandoned", "done", "records", "settled")

    def __init__(self, records: Sequence[UsageRecord]) -> None:
        self.records = records
        self.done = threading.Event()
        self.settled = False
        self.abandoned = False

    def gave_up(self) -> bool:
        """Whether the caller stopped waiting (a method: the flag changes under our feet)."""
        return self.abandoned


class _Channel:
    """One sink's worker thread, spool file and failure state."""

    def __init__(self, key: str, sink: Sink, folder: str) -> None:
        self.key = key
        self.sink = sink
        self.folder = folder
        self.stem = _file_stem(sink, key)
        self.path = os.path.join(folder, f"{self.stem}.{os.getpid()}.jsonl")
        self.lock = threading.Lock()  # guards everything below and the spool file
        self.jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self.thread: threading.Thread | None = None
        self.queued = 0
        self.running_since: float | None = None
        self.pending = 0  # spooled records not yet delivered
        self.failures = 0  # consecutive failed attempts
        self.warned = False
        self.reported = False
        self.retired = False  # dropped from the registry: callers must fetch a new channel
        self._adopt_orphans()

    # -- the spool file -------------------------------------------------------------------

    def _append(self, lines: bytes) -> None:
        os.makedirs(self.folder, mode=0o700, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            if os.fstat(fd).st_size == 0:
                header = {"aiusage_spool": 1, "sink": repr(self.sink), "key": self.key}
                lines = (json.dumps(header) + "\n").encode() + lines
            append_lines(fd, lines, fsync=True)
        finally:
            os.close(fd)

    def spool(self, records: Sequence[UsageRecord]) -> None:
        """Append ``records`` to the spool file (caller holds ``self.lock``)."""
        if records:
            self._append(dump_lines(records))
            self.pending += len(records)

    def _mark_delivered(self, records: Sequence[UsageRecord]) -> None:
        """Record that spooled ``records`` reached the sink (caller holds ``self.lock``)."""
        self._append((json.dumps({"delivered": [r.record_id for r in records]}) + "\n").encode())
        self.pending -= len(records)
        if self.pending <= 0:
            self.pending = len(self._read_pending(self.path))
            if self.pending == 0:
                self._remove_file()

    def _remove_file(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)

    @staticmethod
    def _read_pending(path: str) -> list[dict[str, Any]]:
        """Spooled records of ``path`` not yet delivered, first spooled first, each once."""
        try:
            lines = list(read_jsonl(path))
        except FileNotFoundError:
            return []
        records: dict[str, dict[str, Any]] = {}
        delivered: set[str] = set()
        for line in lines:
            if "record_id" in line:
                records.setdefault(str(line["record_id"]), line)
            elif "delivered" in line:
                delivered.update(str(i) for i in line["delivered"])
        return [data for rid, data in records.items() if rid not in delivered]

    def _adopt_orphans(self) -> None:
        """Take over the spools that dead processes left for the same destination."""
        try:
            names = os.listdir(self.folder)
        except OSError:
            names = []
        mine = os.getpid()
        for name in names:
            match = re.fullmatch(re.escape(self.stem) + r"\.(\d+)(\..*)?\.jsonl", name)
            if match is None or int(match.group(1)) == mine or _pid_alive(int(match.group(1))):
                continue
            orphan = os.path.join(self.folder, name)
            # Renaming to a name we own is atomic: of two processes adopting at once, one wins.
            claimed = os.path.join(self.folder, f"{self.stem}.{mine}.adopted-{name}")
            try:
                os.rename(orphan, claimed)
            except OSError:
                continue
            try:
                pending = self._read_pending(claimed)
                if pending:
                    lines = "".join(json.dumps(d, ensure_ascii=False) + "\n" for d in pending)
                    self._append(lines.encode())
                os.unlink(claimed)
            except (OSError, ValueError):
                logger.warning("aiusage: could not adopt the spool %s", claimed, exc_info=True)
        self.pending = len(self._read_pending(self.path))

    # -- reporting ------------------------------------------------------------------------

    def _failed(self, exc: BaseException | None, count: int) -> None:
        """Count a failed attempt and report it as the rules say (caller holds the lock)."""
        self.failures += 1
        reason = str(exc) if exc is not None else "write did not finish in time"
        if not self.warned:
            self.warned = True
            logger.warning(
                "aiusage: sink %r failed (%s); %d record(s) spooled to %s will be retried on "
                "the next flush and at exit",
                self.sink,
                reason,
                count,
                self.path,
                exc_info=exc if isinstance(exc, Exception) else None,
            )
        if self.failures >= PERMANENT_AFTER:
            self._report_permanent(reason)

    def _report_permanent(self, reason: str) -> None:
        if not self.reported and self.pending:
            self.reported = True
            logger.error(
                "aiusage: sink %r keeps failing (%s): %d record(s) are kept in the spool %s",
                self.sink,
                reason,
                self.pending,
                self.path,
            )

    def _succeeded(self, replayed: int) -> None:
        if self.warned and self.pending == 0:
            logger.info(
                "aiusage: sink %r works again; %d spooled record(s) delivered", self.sink, replayed
            )
            self.warned = self.reported = False
        self.failures = 0

    # -- the worker -----------------------------------------------------------------------

    def _replay(self) -> tuple[bool, int, BaseException | None]:
        """Write the spooled records to the sink. Returns (all delivered, count, error)."""
        with self.lock:
            pending = self._read_pending(self.path) if self.pending else []
        replayed = 0
        for start in range(0, len(pending), RETRY_CHUNK):
            records = [UsageRecord.from_dict(d) for d in pending[start : start + RETRY_CHUNK]]
            try:
                self.sink.write(records)
            except Exception as exc:
                return False, replayed, exc
            with self.lock:
                self._mark_delivered(records)
            replayed += len(records)
        return True, replayed, None

    def _run(self, job: _Job) -> None:
        with self.lock:
            if job.abandoned:  # the caller gave up before we started: records are spooled
                return
        ok, replayed, error = self._replay() if self.pending else (True, 0, None)
        if ok and job.records:
            with self.lock:
                skip = job.gave_up()  # spooled by the caller meanwhile: next retry sends them
            if not skip:
                try:
                    self.sink.write(job.records)
                except Exception as exc:
                    ok, error = False, exc
                else:
                    with self.lock:
                        if job.gave_up():  # completed after the deadline: do not resend
                            self._mark_delivered(job.records)
                        job.settled = True
        with self.lock:
            if not ok:
                if not job.gave_up():
                    self.spool(job.records)
                job.settled = True
                self._failed(error, len(job.records))
            else:
                job.settled = True
                self._succeeded(replayed)

    def _loop(self) -> None:
        while True:
            try:
                job = self.jobs.get(timeout=_IDLE_SECONDS)
            except queue.Empty:
                with self.lock:
                    if self.queued == 0:
                        self.thread = None
                        _forget_if_idle(self)
                        return
                continue
            if job is None:
                return
            with self.lock:
                self.queued -= 1
                self.running_since = time.monotonic()
            try:
                self._run(job)
            except Exception:  # never let the worker die: report and keep serving
                logger.exception("aiusage: writing to sink %r failed unexpectedly", self.sink)
            finally:
                with self.lock:
                    self.running_since = None
                job.done.set()

    def _ensure_worker(self) -> bool:
        """Start the worker if needed (caller holds the lock); False if threads cannot start."""
        if self.thread is not None and self.thread.is_alive():
            return True
        thread = threading.Thread(target=self._loop, name=f"aiusage-sink-{self.stem}", daemon=True)
        try:
            thread.start()
        except RuntimeError:  # interpreter shutting down: no new threads
            return False
        self.thread = thread
        return True

    # -- the caller's side ----------------------------------------------------------------

    def submit(self, records: Sequence[UsageRecord], timeout: float) -> bool:
        """Write ``records`` (after any spooled ones) within ``timeout`` or spool them.

        Returns False, having done nothing, if the channel was retired meanwhile.
        """
        job = _Job(records)
        with self.lock:
            if self.retired:
                return False
            running = self.running_since
            if running is not None and time.monotonic() - running > timeout:
                # The worker is stuck in a write that already overran: do not queue behind it.
                self.spool(records)
                self._failed(None, len(records))
                return True
            threaded = self._ensure_worker()
            if threaded:
                self.queued += 1
                self.jobs.put(job)
        if not threaded:
            self._run(job)
            return True
        if job.done.wait(timeout):
            return True
        with self.lock:
            if not job.settled:
                job.abandoned = True
                self.spool(records)
                self._failed(None, len(records))
        return True

    def final_report(self) -> None:
        with self.lock:
            if self.pending:
                self._report_permanent("records still spooled at exit")


_registry_lock = threading.Lock()
_channels: dict[str, _Channel] = {}


def _forget_if_idle(channel: _Channel) -> None:
    # Called with channel.lock held by an exiting worker. A channel with nothing spooled has
    # no state worth keeping; dropping it releases the sink object.
    if channel.pending == 0:
        channel.retired = True
        with _registry_lock:
            if _channels.get(channel.key) is channel:
                del _channels[channel.key]


def _channel(sink: Sink) -> _Channel:
    key = _spool_key(sink)
    with _registry_lock:
        channel = _channels.get(key)
        if channel is None:
            channel = _channels[key] = _Channel(key, sink, _spool_dir())
        else:
            channel.sink = sink  # same destination; write through the latest object
        return channel


def _reset_after_fork() -> None:
    # Threads and locks do not survive fork: the child starts with no channels. The parent's
    # spool files stay the parent's (or are adopted once it is dead).
    global _registry_lock
    _registry_lock = threading.Lock()
    _channels.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_after_fork)


def write_or_spool(sink: Sink, records: Sequence[UsageRecord]) -> None:
    """Write ``records`` to ``sink`` within ``settings().sink_timeout``; spool them if the
    sink raises or overruns. Never raises, never blocks longer than the timeout."""
    from ._config import settings

    if not records:
        return
    try:
        if type(sink) is MemorySink:
            # A list append cannot fail or hang: skip the worker thread.
            sink.write(records)
            return
        timeout = settings().sink_timeout
        while not _channel(sink).submit(records, timeout):
            pass  # the channel retired between lookup and submit: take the new one
    except Exception:
        logger.exception(
            "aiusage: sink %r could not take %d record(s) and they could not be spooled",
            sink,
            len(records),
        )


def _channels_with_spool() -> list[_Channel]:
    with _registry_lock:
        return [c for c in _channels.values() if c.pending]


def retry_all_spools(*, final: bool = False, exclude: Iterable[Sink] = ()) -> None:
    """Retry every sink's spooled records now (each within the sink timeout). Never raises.

    ``exclude`` lists sinks just written to (a write retries their spool first anyway);
    ``final=True`` (at exit) also reports, once, the spools still holding records.
    """
    from ._config import settings

    try:
        timeout = settings().sink_timeout
        skip = {_spool_key(sink) for sink in exclude}
        for channel in _channels_with_spool():
            if channel.key not in skip:
                channel.submit((), timeout)
            if final:
                channel.final_report()
    except Exception:
        logger.exception("aiusage: retrying spooled records failed")


def has_spooled() -> bool:
    """Whether any sink has records waiting in its spool (cheap)."""
    return any(c.pending for c in list(_channels.values()))


def spool_path(sink: Sink) -> str | None:
    """The spool file of ``sink`` in this process if it holds records, else ``None``."""
    with _registry_lock:
        channel = _channels.get(_spool_key(sink))
    if channel is None or not channel.pending:
        return None
    return channel.path


def wait_until_idle(timeout: float) -> bool:
    """Wait until no sink write is queued or running (e.g. a late one); False on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        with _registry_lock:
            channels = list(_channels.values())
        busy = [c for c in channels if c.queued or c.running_since is not None]
        if not busy:
            return True
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        # Queue an empty job behind the busy ones and wait for it (no polling sleep).
        marker = _Job(())
        channel = busy[0]
        with channel.lock:
            if not channel._ensure_worker():
                return False
            channel.queued += 1
            channel.jobs.put(marker)
        if not marker.done.wait(remaining):
            return False
