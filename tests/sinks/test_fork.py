"""Records pending at a fork are delivered by the parent alone: the child starts with an
empty outbox (a real ``os.fork`` and ``multiprocessing`` with the fork start method)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from sinks_testing import run_python


def _lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_os_fork_with_records_pending_delivers_each_once(tmp_path: Path) -> None:
    target = tmp_path / "usage.jsonl"
    run_python(
        f"""
        import os, sys
        from aiusage_core import JsonlSink, ai_usage_context, configure, record_usage

        configure(sinks=[JsonlSink({str(target)!r})])
        for n in range(3):  # outside any context: pending until exit
            record_usage(model="gpt-4o-mini", input_tokens=100 + n)
        with ai_usage_context("job"):
            record_usage(model="gpt-4o-mini", input_tokens=200)
            pid = os.fork()
            if pid == 0:
                record_usage(model="gpt-4o-mini", input_tokens=300)  # the child's own
        if pid == 0:
            sys.exit(0)  # exit hooks run: the child flushes what it made
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        """
    )
    lines = _lines(target)
    assert sorted(line["input_tokens"] for line in lines) == [100, 101, 102, 200, 300]
    assert max(Counter(line["record_id"] for line in lines).values()) == 1


def test_multiprocessing_fork_children_deliver_only_their_own_records(tmp_path: Path) -> None:
    target = tmp_path / "usage.jsonl"
    run_python(
        f"""
        import multiprocessing
        from aiusage_core import JsonlSink, ai_usage_context, configure, record_usage

        def work(n):
            with ai_usage_context("child"):
                record_usage(model="gpt-4o-mini", input_tokens=1000 + n)

        if __name__ == "__main__":
            configure(sinks=[JsonlSink({str(target)!r})])
            for n in range(3):
                record_usage(model="gpt-4o-mini", input_tokens=n)  # pending in the parent
            forking = multiprocessing.get_context("fork")
            children = [forking.Process(target=work, args=(n,)) for n in range(4)]
            for child in children:
                child.start()
            for child in children:
                child.join()
                assert child.exitcode == 0
            with forking.Pool(2) as pool:
                pool.map(work, [10, 11])
        """
    )
    lines = _lines(target)
    assert sorted(line["input_tokens"] for line in lines) == [
        0,
        1,
        2,
        1000,
        1001,
        1002,
        1003,
        1010,
        1011,
    ]
    assert max(Counter(line["record_id"] for line in lines).values()) == 1
