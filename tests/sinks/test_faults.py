"""The fault battery: a record no sink can store, a full disk, a sink that keeps failing, a
file locked by another process. Nothing is lost, nothing is doubled, nothing stalls."""

from __future__ import annotations

import fcntl
import json
import logging
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import pytest
from sinks_testing import make_record, python_env, run_python

from aiusage_core import (
    JsonlSink,
    Ledger,
    SQLiteSink,
    UsageRecord,
    _spool,
    ai_usage_context,
    configure,
    record_usage,
)


def _tokens(records: Sequence[UsageRecord]) -> list[int]:
    return [r.input_tokens for r in records]


def _fill(disk: Path, leave: int) -> Path:
    """Fill the small filesystem ``disk`` until at most ``leave`` bytes are free."""
    filler = disk / "filler"
    with open(filler, "wb") as file:
        try:
            while True:
                stats = os.statvfs(disk)
                free = stats.f_bavail * stats.f_frsize
                if free <= leave:
                    break
                file.write(b"\0" * min(4096, free - leave if free > leave else 1))
                file.flush()
        except OSError:
            pass
    return filler


class DownSink:
    """Raises ``ConnectionError`` (the backend is down) until ``up`` is set; then stores."""

    def __init__(self) -> None:
        self.up = False
        self.attempts = 0
        self.stored: list[UsageRecord] = []

    def write(self, records: Sequence[UsageRecord]) -> None:
        self.attempts += 1
        if not self.up:
            raise ConnectionError("backend down")
        self.stored.extend(records)

    def close(self) -> None:
        return None


# -- 1. one record a sink cannot take ---------------------------------------------------------


def test_a_record_the_ledger_cannot_store_goes_to_dead_letter_and_the_rest_to_the_ledger(
    tmp_path: Path, spool_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "l.db"
    sink = SQLiteSink(path)
    poison = make_record(input_tokens=2**63)  # made by hand: record_usage refuses it
    batch = [make_record(input_tokens=n) for n in (1, 2)] + [poison, make_record(input_tokens=3)]
    _spool.write_or_spool(sink, batch)
    with configure(sinks=[sink]), ai_usage_context("later"):
        record_usage(model="gpt-4o-mini", input_tokens=4)
    with Ledger(path) as ledger:
        assert sorted(_tokens(list(ledger.records()))) == [1, 2, 3, 4]
    dead = Path(_spool.dead_letter_path(sink))
    (line,) = [json.loads(x) for x in dead.read_text().splitlines()]
    assert line["record_id"] == poison.record_id
    assert line["input_tokens"] == 2**63
    assert "OverflowError" in line["dead_letter"]["error"]
    assert UsageRecord.from_dict(line) == poison
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1
    assert str(dead) in errors[0]
    assert list(spool_dir.glob("*.[0-9]*.jsonl")) == []  # nothing left in a spool


def test_a_spool_with_a_poison_record_left_by_an_older_process_no_longer_blocks_the_ledger(
    tmp_path: Path, spool_dir: Path
) -> None:
    path = tmp_path / "l.db"
    sink = SQLiteSink(path)
    dead_pid = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    stem = _spool._file_stem(sink, sink.spool_key)
    spooled = [make_record(input_tokens=n) for n in (10, 11)]
    spooled.insert(1, make_record(input_tokens=10**19))
    left = spool_dir / f"{stem}.{dead_pid}.jsonl"
    spool_dir.mkdir(exist_ok=True)
    left.write_text(
        json.dumps({"aiusage_spool": 1, "key": sink.spool_key})
        + "\n"
        + "".join(json.dumps(r.to_dict()) + "\n" for r in spooled)
    )
    for run in range(2):  # a later process, and the one after it
        with configure(sinks=[SQLiteSink(path)]), ai_usage_context("next run"):
            record_usage(model="gpt-4o-mini", input_tokens=20 + run)
    with Ledger(path) as ledger:
        assert sorted(_tokens(list(ledger.records()))) == [10, 11, 20, 21]
    dead = [json.loads(x) for x in Path(_spool.dead_letter_path(sink)).read_text().splitlines()]
    assert [x["input_tokens"] for x in dead] == [10**19]
    assert not left.exists()


def test_a_sink_that_is_down_sets_nothing_aside(spool_dir: Path) -> None:
    sink = DownSink()
    with configure(sinks=[sink]), ai_usage_context("job"):
        for n in range(5):
            record_usage(model="gpt-4o-mini", input_tokens=n)
    assert sink.attempts == 1  # a transient error: the batch is not split
    assert not Path(_spool.dead_letter_path(sink)).exists()
    assert _spool.spool_path(sink) is not None


def test_a_sink_raising_other_errors_for_every_record_is_down_not_poisoned(
    spool_dir: Path,
) -> None:
    class Refuses(DownSink):
        def write(self, records: Sequence[UsageRecord]) -> None:
            self.attempts += 1
            raise RuntimeError("service unavailable")

    sink = Refuses()
    with configure(sinks=[sink]), ai_usage_context("job"):
        for n in range(8):
            record_usage(model="gpt-4o-mini", input_tokens=n)
    # 8 -> 4 -> 2 -> 1, then the second record alone: no write went through, so it is down
    assert sink.attempts == 5
    assert not Path(_spool.dead_letter_path(sink)).exists()
    spool = _spool.spool_path(sink)
    assert spool is not None
    lines = [json.loads(x) for x in Path(spool).read_text().splitlines()[1:]]
    assert sorted(x["input_tokens"] for x in lines) == list(range(8))


# -- 4. the spool on a full disk --------------------------------------------------------------


def test_a_full_spool_disk_is_one_error_that_counts_the_lost_records(
    small_disk: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="aiusage")
    _fill(small_disk, leave=0)
    sink = DownSink()
    with configure(sinks=[sink], spool_dir=str(small_disk / "spool")):
        for n in range(113):
            with ai_usage_context("job"):
                record_usage(model="gpt-4o-mini", input_tokens=n)
        errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
        assert len(errors) == 1
        message = errors[0].getMessage()
        assert "1 record(s) for sink" in message
        assert "were LOST" in message
        assert str(small_disk / "spool") in message
        assert "No space left on device" in message
        assert errors[0].exc_info is None  # one line, no traceback
        _spool.retry_all_spools(final=True)  # what interpreter exit does
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 2
    assert "113 record(s) for sink" in errors[1].getMessage()
    assert "lost in all" in errors[1].getMessage()


def test_the_spool_folder_comes_from_aiusage_spool_dir(tmp_path: Path) -> None:
    folder = tmp_path / "my-spool"
    env = python_env(AIUSAGE_SPOOL_DIR=str(folder))
    out = run_python(
        """
        from aiusage_core import _spool, settings
        print(settings().spool_dir)
        print(_spool.spool_folder())
        """,
        env=env,
    )
    assert out.split() == [str(folder), str(folder)]
    run_python(
        """
        from aiusage_core import JsonlSink, ai_usage_context, configure, record_usage

        class Broken(JsonlSink):
            def write(self, records):
                raise OSError("read-only file system")

        configure(sinks=[Broken("/nonexistent/out.jsonl")])
        with ai_usage_context("job"):
            record_usage(model="gpt-4o-mini", input_tokens=5)
        """,
        env=env,
    )
    (spool,) = folder.glob("broken-*.jsonl")
    assert [json.loads(x).get("input_tokens") for x in spool.read_text().splitlines()] == [
        None,
        5,
    ]


# -- 5. a sink that keeps failing ---------------------------------------------------------------


def test_a_context_exit_costs_the_same_during_an_outage(
    spool_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_spool, "RETRY_FIRST", 3600.0)  # no retry falls inside the test
    sink = DownSink()
    with configure(sinks=[sink]):
        for n in range(300):
            with ai_usage_context("job"):
                record_usage(model="gpt-4o-mini", input_tokens=n)
        channel = _spool._channel(sink)
        # One failed write, then 299 exits that only appended to the spool: nothing read back.
        assert sink.attempts == 1
        assert channel.parsed == 0
        assert channel.pending == 300
        sink.up = True
        _spool.retry_all_spools(final=True)  # at exit the sink is tried whatever the pause
    assert _tokens(sink.stored) == list(range(300))
    assert channel.parsed == 300  # each spooled record read back once
    assert list(spool_dir.glob("downsink-*.jsonl")) == []


def test_retries_back_off_and_read_only_a_probe_of_the_spool(
    spool_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_spool, "RETRY_FIRST", 0.0)  # every flush is a retry
    sink = DownSink()
    with configure(sinks=[sink]):
        for n in range(400):
            with ai_usage_context("job"):
                record_usage(model="gpt-4o-mini", input_tokens=n)
        channel = _spool._channel(sink)
        # Each retry reads the first spooled records (a probe of at most 64), never the whole
        # spool: reading does not grow with the outage.
        assert channel.parsed <= 64 * sink.attempts
        assert channel.parsed < 400 * 64
        sink.up = True
        with ai_usage_context("job"):
            record_usage(model="gpt-4o-mini", input_tokens=400)
    assert _tokens(sink.stored) == list(range(401))


def test_the_pause_doubles_up_to_the_maximum(
    spool_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_spool, "RETRY_FIRST", 0.0)
    sink = DownSink()
    with configure(sinks=[sink]):
        with ai_usage_context("job"):
            record_usage(model="gpt-4o-mini", input_tokens=1)
        channel = _spool._channel(sink)
    monkeypatch.setattr(_spool, "RETRY_FIRST", 1.0)
    delays = []
    for _ in range(9):
        with channel.lock:
            channel._failed(ConnectionError("down"), 0)
            delays.append(channel.delay)
    assert delays == [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 60.0, 60.0, 60.0]
    before = time.monotonic()
    assert channel.retry_at - before <= 60.0


# -- 6. a JSONL file locked by another process -----------------------------------------------


def test_a_locked_jsonl_file_delays_exit_by_the_deadline_only_and_doubles_nothing(
    tmp_path: Path, spool_dir: Path
) -> None:
    target = tmp_path / "out.jsonl"
    target.touch()
    holder = os.open(target, os.O_RDWR)
    fcntl.flock(holder, fcntl.LOCK_EX)  # another process's lock, never released in time
    try:
        started = time.monotonic()
        run_python(
            f"""
            from aiusage_core import JsonlSink, configure, record_usage

            configure(sinks=[JsonlSink({str(target)!r})], sink_timeout=1.0,
                      spool_dir={str(spool_dir)!r})
            record_usage(model="gpt-4o-mini", input_tokens=1)  # delivered at exit
            record_usage(model="gpt-4o-mini", input_tokens=2)
            """,
            timeout=60,
        )
        took = time.monotonic() - started
        assert took < 30  # a write waits half the sink timeout, never forever
        (spool,) = spool_dir.glob("jsonlsink-*.jsonl")
        spooled = [json.loads(x) for x in spool.read_text().splitlines()[1:]]
        assert [x["input_tokens"] for x in spooled if "record_id" in x] == [1, 2]
        assert target.read_text() == ""
    finally:
        fcntl.flock(holder, fcntl.LOCK_UN)
        os.close(holder)
    with configure(sinks=[JsonlSink(target)]), ai_usage_context("next run"):
        record_usage(model="gpt-4o-mini", input_tokens=3)
    lines = list(JsonlSink.read(target))
    assert sorted(_tokens(lines)) == [1, 2, 3]
    assert max(Counter(r.record_id for r in lines).values()) == 1


# -- 7. a JSONL write cut short by a full disk -----------------------------------------------


def test_a_jsonl_batch_cut_short_by_a_full_disk_is_written_whole_later_never_twice(
    small_disk: Path, spool_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_spool, "RETRY_FIRST", 0.0)
    target = small_disk / "usage.jsonl"
    sink = JsonlSink(target)
    with configure(sinks=[sink]):
        with ai_usage_context("first"):
            record_usage(model="gpt-4o-mini", input_tokens=1)
        size = target.stat().st_size
        filler = _fill(small_disk, leave=8192)
        with ai_usage_context("big", note="x" * 400):
            for n in range(40):  # ~34 kB: more than the 8 kB left, less than the disk
                record_usage(model="gpt-4o-mini", input_tokens=100 + n)
        assert target.stat().st_size == size  # the lines that fitted were taken back
        assert _spool.spool_path(sink) is not None
        filler.unlink()
        with ai_usage_context("after"):
            record_usage(model="gpt-4o-mini", input_tokens=2)
    lines = list(JsonlSink.read(target))
    assert sorted(_tokens(lines)) == sorted([1, 2, *range(100, 140)])
    assert max(Counter(r.record_id for r in lines).values()) == 1


def test_a_spool_append_cut_short_leaves_no_partial_line(small_disk: Path) -> None:
    sink = DownSink()
    folder = small_disk / "spool"
    with configure(sinks=[sink], spool_dir=str(folder)):
        with ai_usage_context("first"):
            record_usage(model="gpt-4o-mini", input_tokens=1)
        (spool,) = folder.glob("downsink-*.jsonl")
        size = spool.stat().st_size
        _fill(small_disk, leave=4096)
        channel = _spool._channel(sink)
        with channel.lock:
            channel.retry_at = 0.0  # let the next exit try the sink, then spool
        with ai_usage_context("big", note="y" * 400):
            for n in range(40):
                record_usage(model="gpt-4o-mini", input_tokens=100 + n)
        assert spool.stat().st_size == size
        assert channel.pending == 1
        assert channel.lost == 40
