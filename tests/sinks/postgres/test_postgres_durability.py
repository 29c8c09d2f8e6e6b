"""The SQLite ledger's durability promises, kept by the PostgreSQL ledger: several writer
processes lose nothing, a killed writer loses nothing it had finished, a server outage
spools records and delivers them once afterwards, and retried batches are stored once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pytest
from pg_server import PostgresServer
from sinks_testing import make_record, python_env, run_concurrently, run_python

from aiusage_core import JsonlSink, Ledger, PostgresSink, UsageRecord


def test_four_processes_share_one_ledger_without_loss(postgres_dsn: str) -> None:
    code = f"""
        import sys
        from aiusage_core import PostgresSink, ai_usage_context, configure, record_usage

        n = int(sys.argv[1])
        configure(sinks=[PostgresSink({postgres_dsn!r})])
        for i in range(50):
            with ai_usage_context("writer", writer=n, pad="p" * 1500):
                for j in range(10):
                    record_usage(model="gpt-4o-mini", input_tokens=n * 100_000 + i * 10 + j)
    """
    run_concurrently(code, 4)
    with Ledger(postgres_dsn) as book:
        stored = sorted(r.input_tokens for r in book.records())
        by_writer = book.report(["writer"])
    assert stored == sorted(n * 100_000 + k for n in range(4) for k in range(500))
    assert [(g.key, g.totals.calls) for g in by_writer.groups] == [((n,), 500) for n in range(4)]


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_records_of_every_exited_context_survive_sigkill(postgres_dsn: str) -> None:
    code = f"""
        from aiusage_core import PostgresSink, ai_usage_context, configure, record_usage

        configure(sinks=[PostgresSink({postgres_dsn!r})])
        n = 0
        while True:
            with ai_usage_context("job", n=n):
                for j in range(3):
                    record_usage(model="gpt-4o-mini", input_tokens=n * 10 + j + 1)
            print(n, flush=True)  # context n has exited
            n += 1
    """
    child = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=python_env(),
    )
    assert child.stdout is not None
    exited = -1
    try:
        while exited < 30:
            line = child.stdout.readline()
            assert line, child.stderr.read() if child.stderr else "child ended"
            exited = int(line)
        os.kill(child.pid, signal.SIGKILL)  # no atexit, no flush, no close
    finally:
        child.kill()
        child.communicate()
    assert child.returncode == -signal.SIGKILL
    wanted = {n * 10 + j + 1 for n in range(exited + 1) for j in range(3)}
    with Ledger(postgres_dsn) as book:
        assert wanted <= {r.input_tokens for r in book.records()}


def test_a_server_outage_spools_records_and_delivers_each_once_after_restart(
    postgres_server: PostgresServer, postgres_dsn: str, tmp_path: Path
) -> None:
    spool = tmp_path / "outage-spool"
    jsonl = tmp_path / "usage.jsonl"
    code = f"""
        import time
        from aiusage_core import JsonlSink, PostgresSink, ai_usage_context, configure
        from aiusage_core import record_usage

        configure(
            sinks=[PostgresSink({postgres_dsn!r}), JsonlSink({str(jsonl)!r})],
            sink_timeout=5.0,
            spool_dir={str(spool)!r},
        )
        for phase in range(3):  # server up, down, up again
            slowest = 0.0
            for i in range(10):
                started = time.monotonic()
                with ai_usage_context("job", phase=phase):
                    for j in range(3):
                        record_usage(model="gpt-4o-mini", input_tokens=phase * 100 + i * 3 + j)
                slowest = max(slowest, time.monotonic() - started)
            print(phase, slowest, flush=True)
            input()  # the test stops or starts the server meanwhile
    """
    child = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=python_env(),
    )
    assert child.stdin is not None
    assert child.stdout is not None
    slowest: list[float] = []

    def phase_done() -> None:
        assert child.stdout is not None
        line = child.stdout.readline()
        assert line, child.stderr.read() if child.stderr else "child ended"
        slowest.append(float(line.split()[1]))

    try:
        phase_done()
        postgres_server.stop()
        try:
            child.stdin.write("\n")
            child.stdin.flush()
            phase_done()  # ten contexts exited while the server was down
            spooled = list(spool.glob("postgressink-*.jsonl"))
            assert len(spooled) == 1
            assert spooled[0].read_text().count('"record_id"') == 30
        finally:
            postgres_server.start()
        child.stdin.write("\n")
        child.stdin.flush()
        phase_done()
        _, err = child.communicate("\n", timeout=60)
    finally:
        child.kill()
    assert child.returncode == 0, err
    assert "PostgresSink('postgresql://postgres@127.0.0.1" in err  # the warning, then recovery
    # An outage never held the program: failing writes are refused at once (within the
    # sink timeout at worst).
    assert max(slowest) < 5.0
    wanted = sorted(phase * 100 + k for phase in range(3) for k in range(30))
    with Ledger(postgres_dsn) as book:
        assert book.count() == 90
        assert sorted(r.input_tokens for r in book.records()) == wanted
        assert [(g.key, g.totals.calls) for g in book.report(["phase"]).groups] == [
            ((0,), 30),
            ((1,), 30),
            ((2,), 30),
        ]
    assert sorted(r.input_tokens for r in JsonlSink.read(jsonl)) == wanted  # once each too
    assert list(spool.glob("*.jsonl")) == []


@pytest.mark.skipif(not hasattr(signal, "SIGSTOP"), reason="needs SIGSTOP")
def test_a_server_that_stops_answering_holds_the_program_only_up_to_the_sink_deadline(
    postgres_server: PostgresServer, postgres_dsn: str, tmp_path: Path
) -> None:
    spool = tmp_path / "frozen-spool"
    code = f"""
        import time
        from aiusage_core import PostgresSink, ai_usage_context, configure, record_usage

        configure(sinks=[PostgresSink({postgres_dsn!r})], sink_timeout=2.0,
                  spool_dir={str(spool)!r})
        for phase in range(3):  # answering, frozen, answering again
            slowest = total = 0.0
            for i in range(10):
                started = time.monotonic()
                with ai_usage_context("job", phase=phase):
                    for j in range(3):
                        record_usage(model="gpt-4o-mini", input_tokens=phase * 100 + i * 3 + j)
                took = time.monotonic() - started
                slowest, total = max(slowest, took), total + took
            print(phase, slowest, total, flush=True)
            input()  # the test freezes or thaws the server meanwhile
    """
    child = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=python_env(),
    )
    assert child.stdin is not None
    assert child.stdout is not None
    phases: list[tuple[float, float]] = []

    def phase_done() -> None:
        assert child.stdout is not None
        line = child.stdout.readline()
        assert line, child.stderr.read() if child.stderr else "child ended"
        slowest, total = map(float, line.split()[1:])
        phases.append((slowest, total))

    try:
        phase_done()
        postgres_server.freeze()
        try:
            child.stdin.write("\n")
            child.stdin.flush()
            phase_done()  # ten contexts exited while the server did not answer
            (spooled,) = spool.glob("postgressink-*.jsonl")
            assert spooled.read_text().count('"record_id"') == 30
        finally:
            postgres_server.thaw()
        # The write that was stuck on the frozen server ends now, and marks its 3 records
        # delivered in the spool (the caller had spooled them at the deadline).
        deadline = time.monotonic() + 60
        while '"delivered"' not in spooled.read_text():
            assert time.monotonic() < deadline, "the stuck write never ended"
            time.sleep(0.05)
        child.stdin.write("\n")
        child.stdin.flush()
        phase_done()
        _, err = child.communicate("\n", timeout=120)
    finally:
        child.kill()
    assert child.returncode == 0, err
    # The first exit waited for the sink deadline (2 s) and spooled; the others did not wait
    # behind the write stuck on the frozen server: they went straight to the spool.
    slowest, total = phases[1]
    assert 1.9 < slowest < 4.0, phases
    assert total < slowest + 2.0, phases
    with Ledger(postgres_dsn) as book:
        assert book.count() == 90
        assert sorted(r.input_tokens for r in book.records()) == sorted(
            phase * 100 + k for phase in range(3) for k in range(30)
        )
    assert list(spool.glob("*.jsonl")) == []


@pytest.mark.skipif(not hasattr(signal, "SIGSTOP"), reason="needs SIGSTOP")
def test_a_program_exits_on_time_while_the_server_does_not_answer_and_loses_nothing(
    postgres_server: PostgresServer, postgres_dsn: str, tmp_path: Path
) -> None:
    spool = tmp_path / "frozen-spool"
    write = f"""
        from aiusage_core import PostgresSink, ai_usage_context, configure, record_usage
        configure(sinks=[PostgresSink({postgres_dsn!r})], sink_timeout=2.0,
                  spool_dir={str(spool)!r})
        with ai_usage_context("job"):
            for i in TOKENS:
                record_usage(model="gpt-4o-mini", input_tokens=i)
    """
    run_python(write.replace("TOKENS", "range(3)"))  # the ledger exists, the server answers
    postgres_server.freeze()
    try:
        started = time.monotonic()
        run_python(write.replace("TOKENS", "range(3, 8)"), timeout=120)
        took = time.monotonic() - started
    finally:
        postgres_server.thaw()
    assert took < 30, took  # never forever: the sink deadline at each delivery and at exit
    (spooled,) = spool.glob("postgressink-*.jsonl")
    assert spooled.read_text().count('"record_id"') == 5
    # The next run adopts the spool; a write the frozen server finished after all is not
    # stored twice (record_id).
    run_python(write.replace("TOKENS", "range(8, 10)"))
    with Ledger(postgres_dsn) as book:
        assert sorted(r.input_tokens for r in book.records()) == list(range(10))
    assert list(spool.glob("*.jsonl")) == []


def test_retried_batches_are_stored_once(postgres_dsn: str) -> None:
    records = [make_record(input_tokens=i) for i in range(2_000)]
    sink = PostgresSink(postgres_dsn)
    sink.write(records[:500])
    sink.write(records[250:750])  # a retry overlapping a stored batch: only new ones land
    sink.close()
    with Ledger(postgres_dsn) as book:
        assert book.count() == 750
    # Two processes writing the same batches at once (a spool adopted while its writer
    # retries): each record once, and no writer fails.
    code = f"""
        import json, sys
        from aiusage_core import PostgresSink, UsageRecord
        records = [UsageRecord.from_dict(d) for d in json.load(open({_dump(records)!r}))]
        sink = PostgresSink({postgres_dsn!r})
        for start in range(0, 2_000, 250):
            sink.write(records[start:start + 250])
        sink.close()
    """
    run_concurrently(code, 2)
    with Ledger(postgres_dsn) as book:
        assert book.count() == 2_000
        assert sorted(r.input_tokens for r in book.records()) == list(range(2_000))


def test_a_dead_writers_spool_is_adopted_and_delivered_once(
    postgres_server: PostgresServer, postgres_dsn: str, tmp_path: Path
) -> None:
    spool = tmp_path / "shared-spool"
    write = f"""
        import os
        from aiusage_core import PostgresSink, ai_usage_context, configure, record_usage
        configure(sinks=[PostgresSink({postgres_dsn!r})], spool_dir={str(spool)!r})
        with ai_usage_context("job"):
            for i in TOKENS:
                record_usage(model="gpt-4o-mini", input_tokens=i)
        EXIT
    """
    postgres_server.stop()
    try:  # the writer spools, then dies without retrying at exit
        run_python(write.replace("TOKENS", "range(5)").replace("EXIT", "os._exit(0)"))
    finally:
        postgres_server.start()
    (orphan,) = spool.glob("postgressink-*.jsonl")
    spooled = [json.loads(line) for line in orphan.read_text().splitlines() if "record_id" in line]
    assert len(spooled) == 5
    # Two of them reached the ledger after all (a late write whose marker was lost).
    landed = [UsageRecord.from_dict(d) for d in spooled[:2]]
    sink = PostgresSink(postgres_dsn)
    sink.write(landed)
    sink.close()
    # The next writer adopts the dead one's spool and delivers it with its own records.
    run_python(write.replace("TOKENS", "range(5, 8)").replace("EXIT", ""))
    with Ledger(postgres_dsn) as book:
        assert sorted(r.input_tokens for r in book.records()) == list(range(8))
    assert list(spool.glob("*.jsonl")) == []


def _dump(records: list[UsageRecord]) -> str:
    handle, name = tempfile.mkstemp(suffix=".json")
    with os.fdopen(handle, "w") as out:
        json.dump([r.to_dict() for r in records], out)
    return name
