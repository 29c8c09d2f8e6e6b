"""A failing or hanging sink never hurts the caller, and its records wait in the spool."""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import pytest
from sinks_testing import make_record, python_env, run_python

from aiusage_core import (
    JsonlSink,
    Ledger,
    MemorySink,
    SQLiteSink,
    UsageRecord,
    _spool,
    ai_usage_context,
    configure,
    flush,
    record_usage,
)


class FlakySink:
    """Raises on its first ``failures`` writes, then stores everything it is given."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.attempts = 0
        self.stored: list[UsageRecord] = []

    def write(self, records: Sequence[UsageRecord]) -> None:
        self.attempts += 1
        if self.attempts <= self.failures:
            raise ConnectionError(f"backend down (attempt {self.attempts})")
        self.stored.extend(records)

    def close(self) -> None:
        return None


class HangingSink:
    """Blocks in ``write`` until released, then stores the records (no dedupe)."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.entered = threading.Event()
        self.stored: list[UsageRecord] = []

    def write(self, records: Sequence[UsageRecord]) -> None:
        self.entered.set()
        assert self.release.wait(30), "test never released the sink"
        self.stored.extend(records)

    def close(self) -> None:
        return None


def _tokens(records: Sequence[UsageRecord]) -> list[int]:
    return [r.input_tokens for r in records]


@pytest.mark.usefixtures("retry_at_once")
def test_a_flaky_sink_loses_nothing_and_duplicates_nothing(
    caplog: pytest.LogCaptureFixture, spool_dir: Path
) -> None:
    caplog.set_level(logging.INFO, logger="aiusage")
    sink = FlakySink(failures=3)
    with configure(sinks=[sink]):
        for n in range(1, 6):  # one flush per context; the first three fail
            with ai_usage_context("job", n=n):
                record_usage(model="gpt-4o-mini", input_tokens=n)
                record_usage(model="gpt-4o-mini", input_tokens=n * 100)
    # three failures, then the replay of the six spooled records and the new batch
    assert sink.attempts == 6
    assert _tokens(sink.stored) == [1, 100, 2, 200, 3, 300, 4, 400, 5, 500]
    assert len({r.record_id for r in sink.stored}) == 10
    assert list(spool_dir.iterdir()) == []  # delivered spools are removed
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "backend down (attempt 1)" in warnings[0].getMessage()
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert "works again; 6 spooled record(s) delivered" in caplog.text


@pytest.mark.usefixtures("retry_at_once")
def test_spooled_records_of_an_idle_sink_are_retried_on_the_next_flush(spool_dir: Path) -> None:
    flaky, other = FlakySink(failures=1), MemorySink()
    with ai_usage_context("first", sinks=[flaky]):
        record_usage(model="gpt-4o-mini", input_tokens=1)
    assert flaky.stored == []
    with ai_usage_context("second", sinks=[other]):  # flaky gets nothing new here
        record_usage(model="gpt-4o-mini", input_tokens=2)
    assert _tokens(flaky.stored) == [1]
    assert _tokens(other.records) == [2]


def test_a_failing_sink_never_raises_into_nor_masks_the_callers_exception() -> None:
    sink = FlakySink(failures=100)

    def job() -> None:
        with ai_usage_context("job", sinks=[sink]):
            record_usage(model="gpt-4o-mini", input_tokens=1)
            raise KeyError("the caller's own error")

    with pytest.raises(KeyError, match="the caller's own error"):
        job()
    assert sink.attempts == 1


def test_a_permanent_failure_is_reported_once_as_an_error_naming_the_spool(
    caplog: pytest.LogCaptureFixture, spool_dir: Path
) -> None:
    sink = FlakySink(failures=1_000)
    with configure(sinks=[sink]):
        for n in range(8):
            with ai_usage_context("job"):
                record_usage(model="gpt-4o-mini", input_tokens=n)
        _spool.retry_all_spools(final=True)  # what interpreter exit does
    (spool,) = spool_dir.glob("flakysink-*.jsonl")
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1
    assert str(spool) in errors[0].getMessage()
    assert "keeps failing" in errors[0].getMessage()
    assert len([r for r in caplog.records if r.levelno == logging.WARNING]) == 1
    spooled = [json.loads(x) for x in spool.read_text().splitlines()]
    assert spooled[0]["aiusage_spool"] == 1
    assert [r["input_tokens"] for r in spooled[1:]] == list(range(8))
    assert _spool.spool_path(sink) == str(spool)


@pytest.mark.usefixtures("retry_at_once")
def test_a_hanging_sink_costs_the_caller_the_timeout_once_and_never_duplicates(
    spool_dir: Path,
) -> None:
    sink = HangingSink()
    with configure(sinks=[sink], sink_timeout=0.2):
        started = time.monotonic()
        with ai_usage_context("first"):
            record_usage(model="gpt-4o-mini", input_tokens=1)
        first_exit = time.monotonic() - started
        assert sink.entered.is_set()
        started = time.monotonic()
        with ai_usage_context("second"):  # the worker is still stuck: straight to the spool
            record_usage(model="gpt-4o-mini", input_tokens=2)
        second_exit = time.monotonic() - started
        assert 0.2 <= first_exit < 2.0
        assert second_exit < 0.2
        assert sink.stored == []
        (spool,) = spool_dir.glob("hangingsink-*.jsonl")

        sink.release.set()  # the overdue write completes late...
        assert _spool.wait_until_idle(10)
        with ai_usage_context("third"):  # ...and the next flush replays only the rest
            record_usage(model="gpt-4o-mini", input_tokens=3)
        assert _spool.wait_until_idle(10)
    assert sorted(_tokens(sink.stored)) == [1, 2, 3]
    assert not spool.exists()


@pytest.mark.usefixtures("retry_at_once")
def test_a_locked_ledger_delays_records_but_loses_and_doubles_none(
    tmp_path: Path, spool_dir: Path
) -> None:
    path = tmp_path / "l.db"
    SQLiteSink(path).check()
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")  # another process holding the write lock
    with configure(sinks=[SQLiteSink(path, busy_timeout=0.05)]):
        with ai_usage_context("while-locked"):
            record_usage(model="gpt-4o-mini", input_tokens=1)
            record_usage(model="gpt-4o-mini", input_tokens=2)
        assert len(list(spool_dir.glob("sqlitesink-*.jsonl"))) == 1
        blocker.execute("ROLLBACK")
        blocker.close()
        with ai_usage_context("after"):
            record_usage(model="gpt-4o-mini", input_tokens=3)
    with Ledger(path) as ledger:
        assert sorted(_tokens(list(ledger.records()))) == [1, 2, 3]
    assert list(spool_dir.glob("sqlitesink-*.jsonl")) == []


def test_a_late_write_that_fails_leaves_its_records_spooled_once(spool_dir: Path) -> None:
    class SlowThenBroken(HangingSink):
        def write(self, records: Sequence[UsageRecord]) -> None:
            self.entered.set()
            self.release.wait(30)
            raise OSError("gave up")

    sink = SlowThenBroken()
    with configure(sinks=[sink], sink_timeout=0.1):
        with ai_usage_context("job"):
            record_usage(model="gpt-4o-mini", input_tokens=7)
        sink.release.set()
        assert _spool.wait_until_idle(10)
    (spool,) = spool_dir.glob("slowthenbroken-*.jsonl")
    lines = [json.loads(x) for x in spool.read_text().splitlines()[1:]]
    assert [x["input_tokens"] for x in lines] == [7]


def test_a_spool_left_by_a_dead_process_is_adopted_and_delivered(
    tmp_path: Path, spool_dir: Path
) -> None:
    target = tmp_path / "out.jsonl"
    # A process whose sink fails throughout leaves its records in the spool at exit.
    run_python(
        f"""
        from aiusage_core import JsonlSink, ai_usage_context, configure, record_usage

        class Broken(JsonlSink):
            def write(self, records):
                raise OSError("read-only file system")

        configure(sinks=[Broken({str(target)!r})], spool_dir={str(spool_dir)!r})
        with ai_usage_context("job"):
            record_usage(model="gpt-4o-mini", input_tokens=11)
        record_usage(model="gpt-4o-mini", input_tokens=12)  # flushed at exit
        """,
        env=python_env(),
    )
    (left,) = spool_dir.glob("broken-*.jsonl")
    assert not target.exists()

    class Broken(JsonlSink):  # same type name and path: the same destination
        pass

    with configure(sinks=[Broken(target)]), ai_usage_context("next run"):
        record_usage(model="gpt-4o-mini", input_tokens=13)
    assert sorted(_tokens(list(JsonlSink.read(target)))) == [11, 12, 13]
    assert not left.exists()
    assert list(spool_dir.iterdir()) == []


def test_spooled_records_are_retried_at_interpreter_exit(tmp_path: Path, spool_dir: Path) -> None:
    target = tmp_path / "out.jsonl"
    run_python(
        f"""
        from aiusage_core import JsonlSink, ai_usage_context, configure, record_usage

        class FailsOnce(JsonlSink):
            failed = False

            def write(self, records):
                if not self.failed:
                    self.failed = True
                    raise OSError("disk briefly full")
                super().write(records)

        configure(sinks=[FailsOnce({str(target)!r})], spool_dir={str(spool_dir)!r})
        with ai_usage_context("job"):
            record_usage(model="gpt-4o-mini", input_tokens=21)
        assert not __import__("os").path.exists({str(target)!r})
        # no further flush: only the retry at exit can deliver the spooled record
        """,
        env=python_env(),
    )
    assert _tokens(list(JsonlSink.read(target))) == [21]
    assert list(spool_dir.iterdir()) == []


def test_memory_sinks_are_written_inline(spool_dir: Path) -> None:
    sink = MemorySink()
    with ai_usage_context("job", sinks=[sink]):
        record_usage(model="gpt-4o-mini", input_tokens=1)
    assert len(sink) == 1
    assert _spool._channels == {}


def test_write_or_spool_with_nothing_to_write_does_nothing() -> None:
    sink = FlakySink(failures=1)
    _spool.write_or_spool(sink, [])
    flush()
    assert sink.attempts == 0


def test_records_sent_straight_through_deliver_reach_a_jsonl_sink(tmp_path: Path) -> None:
    sink = JsonlSink(tmp_path / "d.jsonl")
    _spool.write_or_spool(sink, [make_record(input_tokens=4)])
    assert _tokens(list(JsonlSink.read(tmp_path / "d.jsonl"))) == [4]
