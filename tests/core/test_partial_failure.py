"""partial_failure_context: the dict way of ORIGIN.md, the method way, and the summary."""

from __future__ import annotations

import pytest

from aiusage_core import (
    PartialFailureTracker,
    ai_usage_context,
    partial_failure_context,
    record_usage,
)


def process(item: str) -> None:
    if item.startswith("bad"):
        raise ValueError(f"cannot process {item}")
    record_usage(model="gpt-4o-mini", input_tokens=10, output_tokens=2)


def test_origin_loop_runs_as_written() -> None:
    items = ["a", "bad-1", "b", "bad-2", "c"]
    with partial_failure_context("batch_processing") as ctx:
        for item in items:
            try:
                process(item)
                ctx["success_count"] += 1
            except Exception as e:
                ctx["errors"].append({"item": item, "error": str(e)})
                ctx["failure_count"] += 1
    tracker = ctx["tracker"]
    assert tracker.totals.calls == 3
    summary = tracker.metadata["partial_failure_summary"]
    assert summary["total"] == 5
    assert summary["successful"] == 3
    assert summary["failed"] == 2
    assert summary["error_count"] == 2
    assert [dict(e) for e in summary["errors"]] == [
        {"item": "bad-1", "error": "cannot process bad-1"},
        {"item": "bad-2", "error": "cannot process bad-2"},
    ]


def test_origin_context_manager_example_runs_as_written() -> None:
    with ai_usage_context("batch_op", job_id="job-123") as tracker:
        process("a")
    assert tracker.totals.calls == 1
    assert tracker.records[0].metadata["job_id"] == "job-123"


def test_summary_keeps_only_the_first_ten_errors() -> None:
    with partial_failure_context("many") as ctx:
        for i in range(25):
            with ctx.attempt(item=i):
                process(f"bad-{i}")
    summary = ctx.tracker.metadata["partial_failure_summary"]
    assert summary["failed"] == 25
    assert summary["error_count"] == 25
    assert len(summary["errors"]) == 10
    assert summary["errors"][0]["item"] == 0
    assert summary["errors"][0]["type"] == "ValueError"


def test_attempt_counts_successes_and_swallows_failures_by_default() -> None:
    with partial_failure_context("attempts") as ctx:
        for item in ["a", "bad", "b"]:
            with ctx.attempt(item):
                process(item)
    assert (ctx.success_count, ctx.failure_count) == (2, 1)


def test_continue_on_error_false_propagates_the_first_failure() -> None:
    trackers: list[PartialFailureTracker] = []

    def run() -> None:
        with partial_failure_context("strict", continue_on_error=False) as tracker:
            trackers.append(tracker)
            for item in ["a", "bad-1", "b"]:
                with tracker.attempt(item):
                    process(item)

    with pytest.raises(ValueError, match="cannot process bad-1"):
        run()
    ctx = trackers[0]
    assert (ctx.success_count, ctx.failure_count) == (1, 1)
    assert ctx.tracker.error is not None
    assert ctx.tracker.metadata["partial_failure_summary"]["failed"] == 1


def test_non_json_items_are_kept_readable_in_the_summary() -> None:
    class Receipt:
        def __repr__(self) -> str:
            return "<Receipt 7>"

    with partial_failure_context("objects") as ctx:
        ctx["errors"].append({"item": Receipt(), "error": "boom"})
        ctx["failure_count"] += 1
    summary = ctx.tracker.metadata["partial_failure_summary"]
    assert summary["errors"][0]["item"] == "<Receipt 7>"


def test_counts_must_stay_non_negative_ints() -> None:
    from aiusage_core import ConfigurationError

    with partial_failure_context("checks") as ctx:
        with pytest.raises(ConfigurationError, match="success_count"):
            ctx["success_count"] = -1
        with pytest.raises(KeyError, match="tracker"):
            ctx["tracker"] = None


def test_async_with() -> None:
    import asyncio

    async def main() -> int:
        async with partial_failure_context("async-batch") as ctx:
            ctx.record_success()
            ctx.record_failure(RuntimeError("x"), item="i")
        return int(ctx.tracker.metadata["partial_failure_summary"]["total"])

    assert asyncio.run(main()) == 2
