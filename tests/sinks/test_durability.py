"""Several writer processes lose nothing; a killed writer loses nothing it had finished."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from sinks_testing import python_env, run_concurrently

from aiusage_core import JsonlSink, Ledger


def test_four_processes_share_one_ledger_and_one_jsonl_file_without_loss(tmp_path: Path) -> None:
    ledger, jsonl = tmp_path / "ledger.db", tmp_path / "usage.jsonl"
    code = f"""
        import sys
        from aiusage_core import JsonlSink, SQLiteSink, ai_usage_context, configure, record_usage

        n = int(sys.argv[1])
        configure(sinks=[SQLiteSink({str(ledger)!r}), JsonlSink({str(jsonl)!r})])
        for i in range(50):
            with ai_usage_context("writer", writer=n, pad="p" * 1500):
                for j in range(10):
                    record_usage(model="gpt-4o-mini", input_tokens=n * 100_000 + i * 10 + j)
    """
    run_concurrently(code, 4)

    expected_tokens = sorted(n * 100_000 + k for n in range(4) for k in range(500))
    with Ledger(ledger) as book:
        stored = list(book.records())
        by_writer = book.report(["writer"])
    assert sorted(r.input_tokens for r in stored) == expected_tokens
    assert [(g.key, g.totals.calls) for g in by_writer.groups] == [((n,), 500) for n in range(4)]

    lines = jsonl.read_bytes().splitlines()
    assert len(lines) == 2000
    from_file = [json.loads(line) for line in lines]  # every line whole
    assert sorted(r["input_tokens"] for r in from_file) == expected_tokens
    assert {r["record_id"] for r in from_file} == {r.record_id for r in stored}


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_records_of_every_exited_context_survive_sigkill(tmp_path: Path) -> None:
    ledger, jsonl = tmp_path / "ledger.db", tmp_path / "usage.jsonl"
    code = f"""
        from aiusage_core import JsonlSink, SQLiteSink, ai_usage_context, configure, record_usage

        configure(sinks=[SQLiteSink({str(ledger)!r}), JsonlSink({str(jsonl)!r})])
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
    with Ledger(ledger) as book:
        in_ledger = {r.input_tokens for r in book.records()}
    in_file = {r.input_tokens for r in JsonlSink.read(jsonl)}
    assert wanted <= in_ledger
    assert wanted <= in_file
