"""Writing to sinks with a deadline; the spool and the dead-letter file that keep what a sink
could not take. Nothing here knows one sink from another: every durable sink (SQLite,
JSON Lines, PostgreSQL, yours) gets the same guarantees.

Every sink gets a *channel*: a worker thread that performs its writes one at a time, a spool
file and a dead-letter file. The caller hands a batch to the worker and waits at most
``settings().sink_timeout`` seconds:

- the write succeeds: done;
- the write raises: the worker appends the batch to the spool file;
- the deadline passes: the caller appends the batch to the spool file itself and returns,
  while the worker is left with the slow write. Until that write ends, later batches for the
  sink go straight to the spool instead of queueing behind it.

Retries back off. After a failed attempt the sink is left alone for ``RETRY_FIRST`` seconds,
doubling up to ``RETRY_MAX``: meanwhile a flush appends its batch to the spool and returns
(a context exit costs the same during an outage as before it). The first flush after the
pause writes the spooled records, oldest first, then the new batch; interpreter exit tries
once more whatever the pause. The channel remembers how far the spool file has been
delivered, so a retry reads only what is still pending, in chunks of ``RETRY_CHUNK``.

One bad record never holds back the others. A write that raises one of the sink's
``transient_errors`` (default: ``OSError``; the ledger sinks add their database's
operational errors) means the sink is down: everything waits. Any other exception may be
about one record: the batch is split in halves and each half written again, down to single
records. A single record that still fails while others of the same attempt went through is
set aside in the sink's *dead-letter file* (``<sink>-<hash>.dead-letter.jsonl`` in the spool
folder, one ``UsageRecord.to_dict()`` line each with a ``dead_letter`` entry saying why),
reported by one error naming the file; if nothing of the attempt went through, the sink is
treated as down instead.

No duplicates. A timed-out write may still complete after its records were spooled. The
worker then appends a *delivered* marker with their ids to the spool, and retries skip
marked records: even a sink that stores whatever it is given (``JsonlSink``) receives each
record once. Only a process killed between the late write and its marker can leave such
records spooled; sinks keyed by ``record_id`` (``SQLiteSink``, ``dedupes_by_record_id =
True``) ignore the repeat, others may see it once more (at least once to the spool, exactly
once by id).

The spool file outlives the process: a later process writing to the same destination
adopts the spool of a dead one.

Reporting. The first failure of a sink is a warning (with the spool's path); a failure that
lasts (``PERMANENT_AFTER`` consecutive failures, or records still spooled at exit) is
reported once as an error naming the spool, and a recovery once as info. Records that could
be neither written nor spooled (the spool's disk is full) are *lost*: one error says how
many, for which sink, and where the spool could not be written; exit reports the total.
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
from datetime import datetime, timezone
from typing import Any

from ._jsonl import append_lines
from ._records import UsageRecord
from ._sinks import MemorySink, Sink

__all__ = [
    "dead_letter_path",
    "retry_all_spools",
    "spool_folder",
    "spool_path",
    "wait_until_idle",
    "write_or_spool",
]

logger = logging.getLogger("aiusage")

PERMANENT_AFTER = 5
"""Consecutive failed attempts after which a sink's failure is reported as permanent."""
RETRY_CHUNK = 5_000
"""Spooled records retried per ``write`` call, so a long spool is replayed in bounded steps."""
RETRY_FIRST = 1.0
"""Seconds a sink is left alone after its first failed attempt (doubled at each failure)."""
RETRY_MAX = 60.0
"""The longest pause between two attempts of a failing sink, in seconds."""
_FIRST_CHUNK = 64  # spooled records the first write of a retry takes (8x more each time)
_STALLED_AFTER = 2  # single records failing before any write went through: the sink is down
_IDLE_SECONDS = 5.0  # an idle worker thread exits after this long
_DEFAULT_TRANSIENT: tuple[type[BaseException], ...] = (OSError,)
_encode = json.JSONEncoder(separators=(",", ":")).encode  # ASCII: never fails to encode


def _spool_key(sink: Sink) -> str:
    key = getattr(sink, "spool_key", None)
    if isinstance(key, str) and key:
        return key
    # No stable identity: the spool belongs to this sink object alone (the channel holds a
    # reference to the sink, so its id cannot be reused while the channel exists).
    return f"{type(sink).__module__}.{type(sink).__qualname__}@{id(sink):x}"


def spool_folder() -> str:
    """Where spool and dead-letter files go: ``configure(spool_dir=...)``, else the
    ``AIUSAGE_SPOOL_DIR`` environment variable, else ``aiusage-spool-<uid>`` in the
    temporary folder."""
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


def _lines(items: Iterable[dict[str, Any]]) -> bytes:
    return "".join([_encode(item) + "\n" for item in items]).encode("ascii")


def _scan(path: str) -> tuple[list[dict[str, Any]], set[str]]:
    """The record lines of spool ``path`` not yet delivered (first spooled first, each once)
    and the ids its delivered markers list."""
    try:
        file = open(path, "rb")  # noqa: SIM115
    except FileNotFoundError:
        return [], set()
    records: dict[str, dict[str, Any]] = {}
    delivered: set[str] = set()
    with file:
        for raw in file:
            try:
                line = json.loads(raw)
            except ValueError:
                continue  # a line cut by a crash: the rest of the file is still good
            if not isinstance(line, dict):
                continue
            if "record_id" in line:
                records.setdefault(str(line["record_id"]), line)
            elif "delivered" in line:
                delivered.update(str(i) for i in line["delivered"])
    return [data for rid, data in records.items() if rid not in delivered], delivered


class _Job:
    # ``abandoned`` (set by the caller) and ``settled`` (set by the worker once the records
    # are stored or spooled) change only under the channel's lock: whichever comes first
    # decides who spools the records, so they are spooled once or not at all.
    __slots__ = ("abandoned", "done", "force", "records", "settled")

    def __init__(self, records: Sequence[UsageRecord], force: bool = False) -> None:
        self.records = records
        self.done = threading.Event()
        self.settled = False
        self.abandoned = False
        self.force = force

    def gave_up(self) -> bool:
        """Whether the caller stopped waiting (a method: the flag changes under our feet)."""
        return self.abandoned


class _Attempt:
    """What one attempt to write to a sink learnt: whether the sink works, whether it is
    down, and the last error."""

    __slots__ = ("down", "error", "failures", "works")

    def __init__(self) -> None:
        self.works = False  # a write of this attempt went through
        self.down = False  # a transient error, or only failures: stop writing
        self.failures = 0
        self.error: BaseException | None = None


class _Outcome:
    __slots__ = ("dead", "delivered", "held")

    def __init__(self) -> None:
        self.delivered: list[UsageRecord] = []
        self.held: list[UsageRecord] = []  # not written: the sink is down
        self.dead: list[tuple[UsageRecord, BaseException]] = []


class _Channel:
    """One sink's worker thread, spool file, dead-letter file and failure state."""

    def __init__(self, key: str, sink: Sink, folder: str) -> None:
        self.key = key
        self.sink = sink
        self.folder = folder
        self.stem = _file_stem(sink, key)
        self.path = os.path.join(folder, f"{self.stem}.{os.getpid()}.jsonl")
        self.dead_path = os.path.join(folder, f"{self.stem}.dead-letter.jsonl")
        self.lock = threading.Lock()  # guards everything below and the spool file
        self.jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self.thread: threading.Thread | None = None
        self.queued = 0
        self.running_since: float | None = None
        self.pending = 0  # spooled records not yet delivered
        self.offset = 0  # bytes of the spool file before which every record is resolved
        self.resolved: set[str] = set()  # ids past ``offset`` delivered or set aside
        self.failures = 0  # consecutive failed attempts
        self.delay = 0.0  # the current pause between attempts
        self.retry_at = 0.0  # time.monotonic() before which the sink is left alone
        self.parsed = 0  # spooled records read back (what a retry costs, for the tests)
        self.warned = False
        self.reported = False
        self.lost = 0  # records neither written nor spooled
        self.lost_reported = 0
        self.dead = 0  # records set aside in the dead-letter file
        self.retired = False  # dropped from the registry: callers must fetch a new channel
        self._adopt_orphans()

    # -- the spool file -------------------------------------------------------------------

    def _append(self, lines: bytes) -> None:
        os.makedirs(self.folder, mode=0o700, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            if os.fstat(fd).st_size == 0:
                header = {"aiusage_spool": 1, "sink": repr(self.sink), "key": self.key}
                lines = _lines([header]) + lines
            append_lines(fd, lines, fsync=True)
        finally:
            os.close(fd)

    def spool(self, records: Sequence[UsageRecord]) -> None:
        """Append ``records`` to the spool file (caller holds ``self.lock``); never raises:
        records that cannot be spooled are counted and reported as lost."""
        if not records:
            return
        try:
            self._append(_lines(r.to_dict() for r in records))
        except Exception as exc:
            self._lose(len(records), exc)
        else:
            self.pending += len(records)

    def _lose(self, count: int, exc: BaseException) -> None:
        self.lost += count
        if self.lost_reported:
            return  # one error; the total is reported at exit
        self.lost_reported = self.lost
        logger.error(
            "aiusage: %d record(s) for sink %r were LOST: the sink could not take them and "
            "the spool %s could not be written (%s). Free space there or set spool_dir "
            "(AIUSAGE_SPOOL_DIR) to another disk; later losses are counted and reported at exit",
            count,
            self.sink,
            self.path,
            exc,
        )

    def _resolve(self, ids: list[str]) -> None:
        """Mark the spooled records ``ids`` as delivered or set aside (caller holds the lock)."""
        if not ids:
            return
        self.pending -= len(ids)
        if self.pending <= 0:
            self._remove_file()
            return
        self.resolved.update(ids)
        try:
            self._append(_lines([{"delivered": ids}]))
        except Exception:  # this process skips them anyway; only an adopter could repeat them
            logger.warning("aiusage: could not mark delivered records in %s", self.path)

    def _remove_file(self) -> None:
        self.pending = 0
        self.offset = 0
        self.resolved.clear()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)

    def _read_chunk(self, limit: int) -> tuple[list[UsageRecord], int]:
        """The next ``limit`` pending records from ``offset`` on, and the offset past them
        (caller holds the lock). A line that makes no record goes to the dead-letter file."""
        records: list[UsageRecord] = []
        bad: list[dict[str, Any]] = []
        try:
            file = open(self.path, "rb")  # noqa: SIM115
        except FileNotFoundError:
            return [], self.offset
        position = self.offset
        with file:
            file.seek(position)
            for raw in file:
                if not raw.endswith(b"\n"):
                    break  # cut short by a crash mid-append (a later append starts afresh)
                position += len(raw)
                try:
                    line = json.loads(raw)
                except ValueError:
                    continue
                if not isinstance(line, dict) or "record_id" not in line:
                    continue  # the header or a delivered marker
                if str(line["record_id"]) in self.resolved:
                    continue
                self.parsed += 1
                try:
                    records.append(UsageRecord.from_dict(line))
                except Exception as exc:
                    line["dead_letter"] = {"sink": repr(self.sink), "error": repr(exc)}
                    bad.append(line)
                if len(records) >= limit:
                    break
        if bad:
            self._set_aside_lines(bad, ValueError("a spooled line that makes no record"))
            self._resolve([str(line["record_id"]) for line in bad])
        return records, position

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
                pending, _ = _scan(claimed)
                if pending:
                    self._append(_lines(pending))
                os.unlink(claimed)
            except (OSError, ValueError):
                logger.warning("aiusage: could not adopt the spool %s", claimed, exc_info=True)
        pending, self.resolved = _scan(self.path)
        self.pending = len(pending)

    # -- the dead-letter file -------------------------------------------------------------

    def _set_aside(self, dead: Sequence[tuple[UsageRecord, BaseException]]) -> None:
        """Write records no retry can store to the dead-letter file and say so once."""
        lines = [
            {**record.to_dict(), "dead_letter": {"sink": repr(self.sink), "error": repr(exc)}}
            for record, exc in dead
        ]
        self._set_aside_lines(lines, dead[0][1])

    def _set_aside_lines(self, lines: list[dict[str, Any]], exc: BaseException) -> None:
        count = len(lines)
        now = datetime.now(timezone.utc).isoformat()
        for line in lines:
            line["dead_letter"]["at"] = now
        try:
            os.makedirs(self.folder, mode=0o700, exist_ok=True)
            fd = os.open(self.dead_path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                append_lines(fd, _lines(lines), fsync=True)
            finally:
                os.close(fd)
        except Exception as error:
            self._lose(count, error)
            return
        self.dead += count
        logger.error(
            "aiusage: sink %r cannot store %d record(s) (%r); they were set aside in the "
            "dead-letter file %s and the records around them were delivered",
            self.sink,
            count,
            exc,
            self.dead_path,
        )

    # -- reporting ------------------------------------------------------------------------

    def _failed(self, exc: BaseException | None, count: int) -> None:
        """Count a failed attempt, pause the sink and report as the rules say (caller holds
        the lock)."""
        self.failures += 1
        self.delay = min(max(self.delay * 2, RETRY_FIRST), RETRY_MAX)
        self.retry_at = time.monotonic() + self.delay
        reason = str(exc) if exc is not None else "write did not finish in time"
        if not self.warned:
            self.warned = True
            logger.warning(
                "aiusage: sink %r failed (%s); %d record(s) spooled to %s will be retried "
                "(after %g s, then less and less often) and at exit",
                self.sink,
                reason,
                count,
                self.path,
                self.delay,
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
        self.delay = 0.0
        self.retry_at = 0.0

    # -- the worker -----------------------------------------------------------------------

    def _transient(self, exc: BaseException) -> bool:
        kinds = getattr(self.sink, "transient_errors", _DEFAULT_TRANSIENT)
        return isinstance(exc, kinds)

    def _write(self, records: Sequence[UsageRecord], attempt: _Attempt, out: _Outcome) -> None:
        """Write ``records``, splitting a failing batch to find the records at fault."""
        parts: list[Sequence[UsageRecord]] = [records]
        while parts:
            part = parts.pop()
            if attempt.down:
                out.held.extend(part)
                continue
            try:
                self.sink.write(part)
            except Exception as exc:
                attempt.error = exc
                if self._transient(exc):
                    attempt.down = True
                    out.held.extend(part)
                elif len(part) > 1:
                    half = len(part) // 2
                    parts.append(part[half:])
                    parts.append(part[:half])
                elif attempt.works:
                    out.dead.append((part[0], exc))
                else:
                    out.held.append(part[0])
                    attempt.failures += 1
                    attempt.down = attempt.failures >= _STALLED_AFTER
            else:
                attempt.works = True
                out.delivered.extend(part)

    def _write_all(self, records: Sequence[UsageRecord], attempt: _Attempt) -> _Outcome:
        out = _Outcome()
        self._write(records, attempt, out)
        if out.held and attempt.works and not self._transient_down(attempt):
            # Records held before any write went through: now that one has, try them again
            # (singly if need be), so a bad record is set aside rather than blocking.
            held, out.held = out.held, []
            attempt.down = False
            self._write(held, attempt, out)
        return out

    def _transient_down(self, attempt: _Attempt) -> bool:
        return attempt.error is not None and self._transient(attempt.error)

    def _replay(self, attempt: _Attempt) -> tuple[int, int]:
        """Write the spooled records to the sink, a chunk at a time, until one is held back.
        Returns how many were delivered and how many were held back."""
        replayed = 0
        limit = _FIRST_CHUNK  # small while the sink may still be down: a probe costs little
        while not attempt.down:
            with self.lock:
                if not self.pending:
                    break
                start = self.offset
                records, end = self._read_chunk(limit)
                if not records:
                    if end == start:  # nothing left to read: the count was off
                        self._remove_file()
                        break
                    self.offset = end
                    continue
            out = self._write_all(records, attempt)
            with self.lock:
                if out.dead:
                    self._set_aside(out.dead)
                self._resolve([r.record_id for r in [*out.delivered, *(r for r, _ in out.dead)]])
                if not out.held and self.pending and self.offset == start:
                    self.offset = end  # the whole chunk is resolved: never read it again
            replayed += len(out.delivered)
            if out.held:
                return replayed, len(out.held)
            limit = min(limit * 8, RETRY_CHUNK)
        return replayed, 0

    def _run(self, job: _Job) -> None:
        with self.lock:
            if job.abandoned:  # the caller gave up before we started: records are spooled
                return
            backing_off = self.pending and not job.force and time.monotonic() < self.retry_at
            if backing_off:  # the sink was paused after this job was queued: spool it
                self.spool(job.records)
                job.settled = True
                return
        attempt = _Attempt()
        replayed, held = self._replay(attempt) if self.pending else (0, 0)
        out = _Outcome()
        if job.records:
            with self.lock:
                skip = job.gave_up()  # spooled by the caller meanwhile: the next retry sends them
            if not skip:
                if attempt.down and self._transient_down(attempt):
                    out.held.extend(job.records)
                else:  # after records that failed alone: one more try, as evidence
                    attempt.down = False
                    out = self._write_all(job.records, attempt)
        if held and attempt.works and not self._transient_down(attempt):
            # Spooled records failed before any write went through; one has now: try them
            # again, so that a record the sink cannot take is set aside, not retried forever.
            attempt.down = False
            more, held = self._replay(attempt)
            replayed += more
        with self.lock:
            if out.dead:
                self._set_aside(out.dead)
            if job.gave_up():  # the caller spooled them all: mark what went through
                self._resolve([r.record_id for r in [*out.delivered, *(r for r, _ in out.dead)]])
            else:
                self.spool(out.held)
            job.settled = True
            if held or out.held or attempt.down:
                self._failed(attempt.error, held + len(out.held))
            else:
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

    def submit(self, records: Sequence[UsageRecord], timeout: float, force: bool = False) -> bool:
        """Write ``records`` (after any spooled ones) within ``timeout`` or spool them.

        While the sink is paused after a failure, the records go straight to the spool
        (``force=True``, at exit, tries the sink anyway). Returns False, having done
        nothing, if the channel was retired meanwhile.
        """
        job = _Job(records, force)
        with self.lock:
            if self.retired:
                return False
            now = time.monotonic()
            if self.pending and not force and now < self.retry_at:
                self.spool(records)  # paused: no attempt, the cost of an append
                return True
            running = self.running_since
            if running is not None and now - running > timeout:
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
            if self.lost > self.lost_reported:
                logger.error(
                    "aiusage: %d record(s) for sink %r were lost in all: neither written nor "
                    "spooled to %s",
                    self.lost,
                    self.sink,
                    self.path,
                )
                self.lost_reported = self.lost


_registry_lock = threading.Lock()
_channels: dict[str, _Channel] = {}


def _forget_if_idle(channel: _Channel) -> None:
    # Called with channel.lock held by an exiting worker. A channel with nothing spooled has
    # no state worth keeping; dropping it releases the sink object.
    if channel.pending == 0 and channel.failures == 0 and channel.lost == channel.lost_reported:
        channel.retired = True
        with _registry_lock:
            if _channels.get(channel.key) is channel:
                del _channels[channel.key]


def _channel(sink: Sink) -> _Channel:
    key = _spool_key(sink)
    with _registry_lock:
        channel = _channels.get(key)
        if channel is None:
            channel = _channels[key] = _Channel(key, sink, spool_folder())
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


def _all_channels() -> list[_Channel]:
    with _registry_lock:
        return list(_channels.values())


def retry_all_spools(*, final: bool = False, exclude: Iterable[Sink] = ()) -> None:
    """Retry every sink's spooled records now (each within the sink timeout). Never raises.

    ``exclude`` lists sinks just written to (a write retries their spool first anyway). A
    paused sink is skipped, except with ``final=True`` (at exit), which also reports, once,
    the spools still holding records and the records lost.
    """
    from ._config import settings

    try:
        timeout = settings().sink_timeout
        skip = {_spool_key(sink) for sink in exclude}
        for channel in _all_channels():
            if channel.pending and channel.key not in skip:
                channel.submit((), timeout, force=final)
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


def dead_letter_path(sink: Sink) -> str:
    """The dead-letter file of ``sink``'s destination (it exists once a record went there)."""
    return os.path.join(spool_folder(), f"{_file_stem(sink, _spool_key(sink))}.dead-letter.jsonl")


def wait_until_idle(timeout: float) -> bool:
    """Wait until no sink write is queued or running (e.g. a late one); False on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        busy = [c for c in _all_channels() if c.queued or c.running_since is not None]
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
