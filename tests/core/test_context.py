"""Usage contexts: attribution, nesting, errors, state, and async use."""

from __future__ import annotations

import asyncio
import threading
from decimal import Decimal

import pytest

from aiusage_core import (
    ContextError,
    MemorySink,
    ai_usage_context,
    batch_ai_usage_context,
    current_context,
    record_usage,
)

# gpt-4o-mini list prices, $/MTok: input 0.15, cached input 0.075, output 0.60.
GPT_4O_MINI_IN = Decimal("0.15")
GPT_4O_MINI_CACHED = Decimal("0.075")
GPT_4O_MINI_OUT = Decimal("0.60")
MTOK = Decimal(1_000_000)


def mini_cost(input_tokens: int, output_tokens: int, cached: int = 0) -> Decimal:
    return (
        (input_tokens - cached) * GPT_4O_MINI_IN
        + cached * GPT_4O_MINI_CACHED
        + output_tokens * GPT_4O_MINI_OUT
    ) / MTOK


def test_record_goes_to_innermost_context_and_every_ancestor() -> None:
    with ai_usage_context("outer") as outer:
        record_usage(model="gpt-4o-mini", input_tokens=100, output_tokens=10)
        with ai_usage_context("inner") as inner:
            record_usage(model="gpt-4o-mini", input_tokens=1000, output_tokens=100)
    assert inner.totals.calls == 1
    assert inner.totals.input_tokens == 1000
    assert inner.totals.cost_usd == mini_cost(1000, 100)
    assert outer.totals.calls == 2
    assert outer.totals.input_tokens == 1100
    assert outer.totals.output_tokens == 110
    assert outer.totals.total_tokens == 1210
    assert outer.totals.cost_usd == mini_cost(100, 10) + mini_cost(1000, 100)
    assert [r.context_path for r in outer.records] == [("outer",), ("outer", "inner")]
    assert [r.context_path for r in inner.records] == [("outer", "inner")]


def test_path_parent_and_current_context_follow_the_nesting() -> None:
    assert current_context() is None
    with ai_usage_context("a") as a:
        assert current_context() is a
        assert a.parent is None
        with ai_usage_context("b") as b:
            assert current_context() is b
            assert b.parent is a
            assert b.path == ("a", "b")
        assert current_context() is a
    assert current_context() is None


def test_cached_tokens_are_priced_at_the_cached_rate() -> None:
    with ai_usage_context("cache") as ctx:
        record = record_usage(
            model="gpt-4o-mini", input_tokens=1000, cached_input_tokens=200, output_tokens=100
        )
    assert record.cost_usd == Decimal("0.000195")
    assert ctx.totals.cached_input_tokens == 200


def test_entering_the_same_context_twice_is_an_error() -> None:
    ctx = ai_usage_context("once")
    with ctx, pytest.raises(ContextError, match="already entered"):
        ctx.__enter__()
    with pytest.raises(ContextError, match="already used"):
        ctx.__enter__()


def test_empty_operation_type_is_rejected() -> None:
    with pytest.raises(ContextError, match="non-empty string"):
        ai_usage_context("")


def test_exception_is_recorded_and_reraised_unchanged_and_records_flushed() -> None:
    sink = MemorySink()
    boom = RuntimeError("upstream failed")
    ctx = ai_usage_context("job", sinks=[sink])

    def job() -> None:
        with ctx:
            record_usage(model="gpt-4o-mini", input_tokens=10, output_tokens=1)
            raise boom

    with pytest.raises(RuntimeError) as raised:
        job()
    assert raised.value is boom
    assert ctx.error is not None
    assert (ctx.error.type, ctx.error.message) == ("RuntimeError", "upstream failed")
    assert str(ctx.error) == "RuntimeError: upstream failed"
    assert len(sink) == 1
    assert current_context() is None


def test_context_without_exception_has_no_error() -> None:
    with ai_usage_context("fine") as ctx:
        pass
    assert ctx.error is None
    assert ctx.totals.calls == 0
    assert ctx.totals.cost_usd == Decimal(0)


def test_unknown_model_is_unpriced_not_free_and_warns_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level("WARNING", logger="aiusage"), ai_usage_context("x") as ctx:
        first = record_usage(model="acme-llm-unknown-1", input_tokens=10, output_tokens=5)
        record_usage(model="acme-llm-unknown-1", input_tokens=10, output_tokens=5)
        record_usage(model="gpt-4o-mini", input_tokens=1000, output_tokens=0)
    assert first.cost_usd is None
    assert not first.priced
    assert ctx.totals.unpriced_calls == 2
    assert ctx.totals.calls == 3
    assert ctx.totals.cost_usd == mini_cost(1000, 0)
    assert not ctx.totals.complete
    warnings = [r for r in caplog.records if "acme-llm-unknown-1" in r.getMessage()]
    assert len(warnings) == 1


def test_batch_context_prices_at_batch_rates_and_marks_records() -> None:
    with batch_ai_usage_context("batch-42") as ctx, ai_usage_context("step"):
        record = record_usage(model="gpt-4o-mini", input_tokens=1_000_000, output_tokens=0)
    # Batch API: half the standard input price.
    assert record.batch is True
    assert record.cost_usd == Decimal("0.075")
    assert ctx.metadata["batch_id"] == "batch-42"
    assert ctx.operation_type == "batch_processing"


def test_explicit_cost_is_kept() -> None:
    with ai_usage_context("manual"):
        record = record_usage(model="my-model", input_tokens=5, cost_usd="0.0123")
    assert record.cost_usd == Decimal("0.0123")
    assert record.usage_status == "manual"


def test_error_records_count_as_errors() -> None:
    with ai_usage_context("e") as ctx:
        record_usage(model="gpt-4o-mini", error=TimeoutError("slow"))
    record = ctx.records[0]
    assert record.error is not None
    assert (record.error.type, record.error.message) == ("TimeoutError", "slow")
    assert ctx.totals.errors == 1


def test_async_with_and_tasks_inherit_the_context() -> None:
    async def work(n: int) -> None:
        record_usage(model="gpt-4o-mini", input_tokens=n, output_tokens=0)

    async def main() -> tuple[int, int]:
        async with ai_usage_context("async-outer") as ctx:
            await asyncio.gather(*(work(i) for i in range(1, 11)))
            return ctx.totals.calls, ctx.totals.input_tokens

    assert asyncio.run(main()) == (10, 55)


def test_thousands_of_tasks_each_in_their_own_context_do_not_cross_talk() -> None:
    async def job(i: int) -> tuple[int, int, tuple[str, ...]]:
        async with ai_usage_context(f"task-{i}", task=i) as ctx:
            await asyncio.sleep(0)
            record_usage(model="gpt-4o-mini", input_tokens=i, output_tokens=1)
            await asyncio.sleep(0)
            record_usage(model="gpt-4o-mini", input_tokens=i, output_tokens=1)
            return ctx.totals.input_tokens, ctx.records[0].metadata["task"], ctx.path

    async def main() -> list[tuple[int, int, tuple[str, ...]]]:
        async with ai_usage_context("root") as root:
            results = await asyncio.gather(*(job(i) for i in range(2000)))
        assert root.totals.calls == 4000
        assert root.totals.input_tokens == 2 * sum(range(2000))
        return results

    results = asyncio.run(main())
    for i, (tokens, task, path) in enumerate(results):
        assert tokens == 2 * i
        assert task == i
        assert path == ("root", f"task-{i}")


def test_dozens_of_threads_into_one_context_lose_nothing() -> None:
    from aiusage_core import propagate

    threads_n, per_thread = 40, 250
    barrier = threading.Barrier(threads_n)

    def worker() -> None:
        barrier.wait()
        for _ in range(per_thread):
            record_usage(
                model="gpt-4o-mini", input_tokens=3, cached_input_tokens=1, output_tokens=2
            )

    with ai_usage_context("threads") as ctx:
        threads = [threading.Thread(target=propagate(worker)) for _ in range(threads_n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    n = threads_n * per_thread
    assert ctx.totals.calls == n
    assert ctx.totals.input_tokens == 3 * n
    assert ctx.totals.cached_input_tokens == n
    assert ctx.totals.output_tokens == 2 * n
    assert ctx.totals.cost_usd == n * mini_cost(3, 2, cached=1)
    assert len(ctx.records) == n


def test_records_are_capped_but_totals_stay_exact(caplog: pytest.LogCaptureFixture) -> None:
    from aiusage_core import configure

    with configure(max_records_per_context=5), ai_usage_context("capped") as ctx:
        for _ in range(12):
            record_usage(model="gpt-4o-mini", input_tokens=1)
    assert ctx.totals.calls == 12
    assert len(ctx.records) == 5
    assert ctx.records_dropped == 7
    assert "keeps at most 5 records" in caplog.text


def test_context_used_as_decorator_opens_a_fresh_context_per_call() -> None:
    seen = []

    @ai_usage_context("decorated", team="ocr")
    def call() -> None:
        ctx = current_context()
        assert ctx is not None
        seen.append(ctx)
        record_usage(model="gpt-4o-mini", input_tokens=1)

    call()
    call()
    assert len(seen) == 2
    assert seen[0] is not seen[1]
    assert all(c.totals.calls == 1 and c.metadata["team"] == "ocr" for c in seen)


def test_record_outside_any_context_has_empty_path_and_reaches_configured_sinks() -> None:
    from aiusage_core import configure, flush

    sink = MemorySink()
    with configure(sinks=[sink]):
        record = record_usage(model="gpt-4o-mini", input_tokens=7)
        assert record.context_path == ()
        assert record.operation_type is None
        flush()
    assert sink.records == [record]
