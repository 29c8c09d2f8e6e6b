"""@ai_usage_tracked: the three forms, four kinds of function, call-time metadata, tracker."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from aiusage_core import (
    UsageContext,
    ai_usage_context,
    ai_usage_tracked,
    current_context,
    record_usage,
)


def _use(tokens: int = 10) -> UsageContext:
    record_usage(model="gpt-4o-mini", input_tokens=tokens)
    ctx = current_context()
    assert ctx is not None
    return ctx


def test_bare_form_uses_the_function_name() -> None:
    @ai_usage_tracked
    def process_receipt() -> UsageContext:
        return _use()

    ctx = process_receipt()
    assert ctx.operation_type == "process_receipt"
    assert ctx.totals.calls == 1
    assert current_context() is None


def test_empty_call_form() -> None:
    @ai_usage_tracked()
    def label() -> UsageContext:
        return _use()

    assert label().operation_type == "label"


def test_arguments_form_with_metadata_from_origin() -> None:
    @ai_usage_tracked(operation_type="receipt_processing", team="ocr")
    def process_receipt(receipt_id: str) -> UsageContext:
        return _use()

    ctx = process_receipt("r-1")
    assert ctx.operation_type == "receipt_processing"
    assert ctx.metadata["team"] == "ocr"


def test_call_time_job_id_and_batch_id_become_metadata_and_reach_the_function() -> None:
    received: dict[str, Any] = {}

    @ai_usage_tracked(operation_type="op")
    def work(item: str, job_id: str, batch_id: str | None = None) -> UsageContext:
        received.update(item=item, job_id=job_id, batch_id=batch_id)
        return _use()

    ctx = work("a", "job-1", batch_id="b-9")
    assert received == {"item": "a", "job_id": "job-1", "batch_id": "b-9"}
    assert ctx.metadata["job_id"] == "job-1"
    assert ctx.metadata["batch_id"] == "b-9"
    assert ctx.records[0].metadata["job_id"] == "job-1"


def test_context_key_not_declared_is_taken_out_of_the_call() -> None:
    @ai_usage_tracked
    def work(x: int) -> UsageContext:
        return _use(x)

    ctx = work(3, user_id="u-7")  # type: ignore[call-arg]
    assert ctx.metadata["user_id"] == "u-7"


def test_non_json_call_time_values_are_stringified() -> None:
    import uuid

    job = uuid.UUID("12345678-1234-5678-1234-567812345678")

    @ai_usage_tracked
    def work(job_id: uuid.UUID) -> UsageContext:
        assert isinstance(job_id, uuid.UUID)
        return _use()

    assert work(job).metadata["job_id"] == str(job)


def test_call_time_values_win_over_decorator_metadata() -> None:
    @ai_usage_tracked(job_id="static")
    def work(job_id: str) -> UsageContext:
        return _use()

    assert work("dynamic").metadata["job_id"] == "dynamic"


def test_custom_context_keys() -> None:
    @ai_usage_tracked(context_keys=["tenant"])
    def work(tenant: str, job_id: str) -> UsageContext:
        return _use()

    ctx = work("acme", "j")
    assert ctx.metadata["tenant"] == "acme"
    assert "job_id" not in ctx.metadata


def test_tracker_parameter_receives_the_context_and_is_hidden_from_the_signature() -> None:
    @ai_usage_tracked
    def work(x: int, tracker: UsageContext | None = None) -> UsageContext:
        assert tracker is current_context()
        assert tracker is not None
        return tracker

    assert work(1).operation_type == "work"
    assert list(inspect.signature(work).parameters) == ["x"]


def test_wraps_keeps_name_doc_and_signature() -> None:
    def documented(a: int, b: str = "x") -> int:
        """Docstring."""
        return a

    tracked = ai_usage_tracked(documented)
    assert tracked.__name__ == "documented"
    assert tracked.__doc__ == "Docstring."
    assert tracked.__wrapped__ is documented  # type: ignore[attr-defined]
    assert inspect.signature(tracked) == inspect.signature(documented)
    assert list(inspect.signature(tracked).parameters) == ["a", "b"]


def test_async_function() -> None:
    @ai_usage_tracked
    async def fetch(job_id: str) -> UsageContext:
        await asyncio.sleep(0)
        return _use()

    assert inspect.iscoroutinefunction(fetch)
    ctx = asyncio.run(fetch("j-2"))
    assert ctx.operation_type == "fetch"
    assert ctx.metadata["job_id"] == "j-2"
    assert ctx.totals.calls == 1


def test_generator_context_spans_the_iteration_but_not_the_consumer() -> None:
    @ai_usage_tracked
    def stream(n: int) -> Iterator[int]:
        for i in range(n):
            record_usage(model="gpt-4o-mini", input_tokens=1)
            yield i

    assert inspect.isgeneratorfunction(stream)
    with ai_usage_context("consumer") as consumer:
        items = []
        for item in stream(3):
            # Between items the consumer's own context is current, not the generator's.
            assert current_context() is consumer
            items.append(item)
    assert items == [0, 1, 2]
    assert consumer.totals.calls == 3
    assert consumer.records[0].context_path == ("consumer", "stream")


def test_generator_send_return_value_and_exception() -> None:
    @ai_usage_tracked
    def echo() -> Iterator[Any]:
        received = yield "ready"
        yield received
        raise KeyError("done")

    gen = echo()
    assert next(gen) == "ready"
    assert gen.send("hello") == "hello"
    with pytest.raises(KeyError, match="done"):
        next(gen)


def test_generator_closed_early_still_closes_its_context() -> None:
    seen: list[UsageContext] = []

    @ai_usage_tracked
    def numbers() -> Iterator[int]:
        ctx = current_context()
        assert ctx is not None
        seen.append(ctx)
        yield 1
        yield 2

    gen = numbers()
    assert next(gen) == 1
    gen.close()
    assert not seen[0].is_open
    assert seen[0].error is None


def test_async_generator() -> None:
    @ai_usage_tracked(operation_type="agen")
    async def chunks(n: int) -> AsyncIterator[int]:
        for i in range(n):
            record_usage(model="gpt-4o-mini", output_tokens=1)
            yield i

    async def main() -> tuple[list[int], int]:
        async with ai_usage_context("outer") as outer:
            items = [i async for i in chunks(4)]
            return items, outer.totals.output_tokens

    assert asyncio.run(main()) == ([0, 1, 2, 3], 4)


def test_exception_in_decorated_function_is_recorded_and_reraised() -> None:
    seen: list[UsageContext] = []

    @ai_usage_tracked
    def fails() -> None:
        ctx = current_context()
        assert ctx is not None
        seen.append(ctx)
        raise ValueError("bad receipt")

    with pytest.raises(ValueError, match="bad receipt"):
        fails()
    assert seen[0].error is not None
    assert seen[0].error.type == "ValueError"


def test_methods_are_tracked_with_positional_job_id() -> None:
    class Service:
        @ai_usage_tracked
        def run(self, job_id: str) -> UsageContext:
            return _use()

    assert Service().run("job-p").metadata["job_id"] == "job-p"


def test_both_forms_at_once_are_rejected() -> None:
    def f() -> None:
        return None

    with pytest.raises(TypeError, match="not both forms"):
        ai_usage_tracked(f, operation_type="x")  # type: ignore[call-overload]


def test_bad_decorator_metadata_fails_at_decoration() -> None:
    from aiusage_core import MetadataError

    with pytest.raises(MetadataError, match="when"):

        @ai_usage_tracked(when=object())
        def f() -> None:
            return None
