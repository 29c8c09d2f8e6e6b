"""Carrying the usage context into threads; asyncio tasks inherit it by themselves."""

from __future__ import annotations

import asyncio
import threading

from aiusage_core import (
    ContextThreadPoolExecutor,
    UsageContext,
    ai_usage_context,
    current_context,
    propagate,
    record_usage,
)


def test_a_plain_thread_does_not_see_the_context() -> None:
    seen: list[UsageContext | None] = []
    with ai_usage_context("parent"):
        t = threading.Thread(target=lambda: seen.append(current_context()))
        t.start()
        t.join()
    assert seen == [None]


def test_propagate_carries_the_context_into_a_thread() -> None:
    seen: list[UsageContext | None] = []
    with ai_usage_context("parent") as parent:
        t = threading.Thread(target=propagate(lambda: seen.append(current_context())))
        t.start()
        t.join()
    assert seen == [parent]


def test_propagated_function_can_run_in_several_threads_at_once() -> None:
    barrier = threading.Barrier(4)

    def work() -> None:
        barrier.wait()
        record_usage(model="gpt-4o-mini", input_tokens=5)

    with ai_usage_context("parent") as parent:
        bound = propagate(work)
        threads = [threading.Thread(target=bound) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert parent.totals.input_tokens == 20


def test_executor_runs_tasks_in_the_submitters_context() -> None:
    def work(n: int) -> tuple[str, ...]:
        record_usage(model="gpt-4o-mini", input_tokens=n)
        ctx = current_context()
        assert ctx is not None
        return ctx.path

    with ai_usage_context("pool") as pool, ContextThreadPoolExecutor(max_workers=4) as ex:
        paths = list(ex.map(work, range(1, 21)))
    assert paths == [("pool",)] * 20
    assert pool.totals.calls == 20
    assert pool.totals.input_tokens == 210


def test_contexts_opened_in_threads_nest_under_the_propagated_parent() -> None:
    def work(i: int) -> tuple[str, ...]:
        with ai_usage_context(f"item-{i}") as ctx:
            record_usage(model="gpt-4o-mini", input_tokens=1)
            return ctx.path

    with ai_usage_context("batch") as batch, ContextThreadPoolExecutor(max_workers=3) as ex:
        paths = sorted(ex.map(work, range(3)))
    assert paths == [("batch", "item-0"), ("batch", "item-1"), ("batch", "item-2")]
    assert batch.totals.calls == 3


def test_asyncio_to_thread_carries_the_context() -> None:
    async def main() -> bool:
        async with ai_usage_context("aio") as ctx:
            seen = await asyncio.to_thread(current_context)
            return seen is ctx

    assert asyncio.run(main())


def _in_thread(target: object, name: str) -> None:
    thread = threading.Thread(target=target, name=name)  # type: ignore[arg-type]
    thread.start()
    thread.join()


def test_without_adopt_threads_a_plain_threads_call_belongs_to_no_context() -> None:
    records = []
    with ai_usage_context("job") as job:
        _in_thread(lambda: records.append(record_usage(model="gpt-4o-mini")), "plain")
    assert job.totals.calls == 0
    assert records[0].context_path == ()
    assert job.unpropagated == {}


def test_an_adopting_context_takes_calls_and_root_contexts_of_threads_without_one() -> None:
    def opens_a_root_context() -> None:
        with ai_usage_context("summarise") as inner:
            record_usage(model="gpt-4o-mini", input_tokens=1000, output_tokens=500)
            record_usage(model="gpt-4o-mini", input_tokens=1000, output_tokens=500)
        assert inner.parent is not None

    with ai_usage_context("test", adopt_threads=True) as test:
        _in_thread(lambda: record_usage(model="gpt-4o-mini", input_tokens=10), "plain-1")
        _in_thread(opens_a_root_context, "worker")
        # Propagated calls are the usual kind, and not listed.
        _in_thread(propagate(lambda: record_usage(model="gpt-4o-mini")), "propagated")
    assert test.totals.calls == 4
    assert [r.context_path for r in test.records] == [
        ("test",),
        ("test", "summarise"),
        ("test", "summarise"),
        ("test",),
    ]
    assert test.unpropagated == {"plain-1": 1, "worker": 2}
    # Once the adopting context is closed, nothing is adopted any more.
    late = []
    _in_thread(lambda: late.append(record_usage(model="gpt-4o-mini")), "late")
    assert late[0].context_path == ()
