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
