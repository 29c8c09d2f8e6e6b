"""Delivery: each record reaches each sink exactly once; failing sinks never hurt the caller."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from aiusage_core import (
    MemorySink,
    UsageRecord,
    ai_usage_context,
    configure,
    flush,
    record_usage,
)


def test_records_reach_context_sinks_when_the_outermost_context_exits_at_the_latest() -> None:
    sink = MemorySink()
    with ai_usage_context("outer", sinks=[sink]):
        with ai_usage_context("inner"):
            record_usage(model="gpt-4o-mini", input_tokens=1)
            record_usage(model="gpt-4o-mini", input_tokens=2)
        record_usage(model="gpt-4o-mini", input_tokens=3)
    assert [r.input_tokens for r in sink.records] == [1, 2, 3]


def test_a_sink_on_two_levels_and_configured_gets_each_record_once() -> None:
    sink = MemorySink()
    with configure(sinks=[sink]):
        with ai_usage_context("outer", sinks=[sink]), ai_usage_context("inner", sinks=[sink]):
            record_usage(model="gpt-4o-mini", input_tokens=1)
        flush()
    assert len(sink) == 1


def test_context_sinks_only_see_their_subtree() -> None:
    a, b, everything = MemorySink(), MemorySink(), MemorySink()
    with configure(sinks=[everything]):
        with ai_usage_context("a", sinks=[a]):
            record_usage(model="gpt-4o-mini", input_tokens=1)
        with ai_usage_context("b", sinks=[b]):
            record_usage(model="gpt-4o-mini", input_tokens=2)
        flush()
    assert [r.input_tokens for r in a.records] == [1]
    assert [r.input_tokens for r in b.records] == [2]
    assert [r.input_tokens for r in everything.records] == [1, 2]


class ExplodingSink:
    def __init__(self) -> None:
        self.calls = 0

    def write(self, records: Sequence[UsageRecord]) -> None:
        self.calls += 1
        raise OSError("disk full")

    def close(self) -> None:
        return None


def test_failing_sink_is_logged_and_never_raises_or_masks(
    caplog: pytest.LogCaptureFixture,
) -> None:
    bad, good = ExplodingSink(), MemorySink()
    with ai_usage_context("job", sinks=[bad, good]):
        record_usage(model="gpt-4o-mini", input_tokens=1)
    assert bad.calls >= 1
    assert len(good) == 1
    assert "disk full" in caplog.text or "ExplodingSink" in caplog.text

    def job() -> None:
        with ai_usage_context("job2", sinks=[bad]):
            record_usage(model="gpt-4o-mini", input_tokens=1)
            raise KeyError("original")

    with pytest.raises(KeyError, match="original"):
        job()


def test_flush_every_delivers_before_the_context_exits() -> None:
    sink = MemorySink()
    with configure(flush_every=3), ai_usage_context("long", sinks=[sink]):
        for _ in range(7):
            record_usage(model="gpt-4o-mini", input_tokens=1)
        assert len(sink) == 6
    assert len(sink) == 7


def test_records_outside_contexts_are_delivered_at_interpreter_exit(
    pytester: pytest.Pytester,
) -> None:
    script = pytester.makepyfile(
        writer="""
        import json, sys
        from aiusage_core import configure, record_usage

        class FileSink:
            def write(self, records):
                with open(sys.argv[1], "a") as f:
                    for r in records:
                        f.write(json.dumps(r.to_dict()) + "\\n")
            def close(self):
                pass

        configure(sinks=[FileSink()])
        record_usage(model="gpt-4o-mini", input_tokens=11)
        record_usage(model="gpt-4o-mini", input_tokens=22)
        """
    )
    out = pytester.path / "records.jsonl"
    result = pytester.run(__import__("sys").executable, str(script), str(out))
    assert result.ret == 0
    lines = out.read_text().splitlines()
    assert [__import__("json").loads(line)["input_tokens"] for line in lines] == [11, 22]


def test_a_bound_method_listener_can_be_removed() -> None:
    from aiusage_core._delivery import add_listener, remove_listener

    class Observer:
        def __init__(self) -> None:
            self.seen: list[UsageRecord] = []

        def on_record(self, record: UsageRecord) -> None:
            self.seen.append(record)

    observer = Observer()
    add_listener(observer.on_record)
    try:
        first = record_usage(model="gpt-4o-mini", input_tokens=1)
    finally:
        remove_listener(observer.on_record)  # a new bound-method object, equal to the first
    record_usage(model="gpt-4o-mini", input_tokens=2)
    assert observer.seen == [first]
