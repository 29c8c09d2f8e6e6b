"""What the core costs: contexts, the decorator and ``record_usage``, each against the bare
Python construct it replaces.

Targets (ratios measured in the same run): a context's enter+exit at most 4x a
``contextlib.nullcontext`` (flat, and 5 nested against 5 nested), one with a budget at most 10x;
a decorated call at most 5x
a plain call inside a ``nullcontext`` (sync and async); ``record_usage`` with pricing at most
20x a ``nullcontext``'s enter+exit.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from contextlib import nullcontext
from typing import Any

from aiusage_core import Budget, ai_usage_context, ai_usage_tracked, record_usage

# -- contexts -------------------------------------------------------------------------------


def null_flat() -> None:
    """The floor: a bare ``with nullcontext()``."""
    with nullcontext():
        pass


def context_flat() -> None:
    """One usage context, entered and left."""
    with ai_usage_context("flat"):
        pass


_BUDGET = Budget(usd="0.50", calls=100)


def context_with_budget() -> None:
    """One usage context with a budget, entered and left."""
    with ai_usage_context("flat", budget=_BUDGET):
        pass


def null_nested() -> None:
    """Five nested ``nullcontext``\\ s."""
    with nullcontext(), nullcontext(), nullcontext(), nullcontext(), nullcontext():
        pass


def context_nested() -> None:
    """Five nested usage contexts (each inner one under the previous)."""
    with (
        ai_usage_context("a"),
        ai_usage_context("b"),
        ai_usage_context("c"),
        ai_usage_context("d"),
        ai_usage_context("e"),
    ):
        pass


def test_context_enter_exit_flat(benchmark: Any, figures: Any) -> None:
    benchmark.group = "context enter+exit"
    benchmark(context_flat)
    figures.compare(
        "context enter+exit, flat",
        null_flat,
        context_flat,
        baseline_name="nullcontext",
        target=4.0,
        number=20_000,
    )


def test_context_with_budget_enter_exit(benchmark: Any, figures: Any) -> None:
    benchmark.group = "context enter+exit"
    benchmark(context_with_budget)
    figures.compare(
        "context with a budget, enter+exit",
        null_flat,
        context_with_budget,
        baseline_name="nullcontext",
        target=10.0,
        number=20_000,
    )


def test_context_enter_exit_nested(benchmark: Any, figures: Any) -> None:
    benchmark.group = "context enter+exit"
    benchmark(context_nested)
    figures.compare(
        "context enter+exit, 5 nested",
        null_nested,
        context_nested,
        baseline_name="5 nested nullcontexts",
        target=4.0,
        number=5_000,
    )


# -- the decorator --------------------------------------------------------------------------


def plain() -> int:
    """The decorated function's body."""
    return 1


def plain_in_nullcontext() -> int:
    """The baseline: the plain call inside a ``nullcontext``."""
    with nullcontext():
        return plain()


@ai_usage_tracked
def tracked() -> int:
    """``plain``, decorated."""
    return 1


async def plain_async() -> int:
    """The decorated coroutine function's body."""
    return 1


async def plain_async_in_nullcontext() -> int:
    """The baseline: awaiting the plain coroutine inside a ``nullcontext``."""
    with nullcontext():
        return await plain_async()


@ai_usage_tracked
async def tracked_async() -> int:
    """``plain_async``, decorated."""
    return 1


def drive(coroutine_function: Callable[[], Coroutine[Any, Any, int]]) -> Callable[[], None]:
    """Run a coroutine that never suspends, without an event loop (whose own cost per task
    would dwarf what is measured)."""

    def run() -> None:
        try:
            coroutine_function().send(None)
        except StopIteration:
            return
        raise AssertionError("the coroutine suspended")  # pragma: no cover

    return run


def test_decorated_sync_call(benchmark: Any, figures: Any) -> None:
    benchmark.group = "decorated call"
    benchmark(tracked)
    figures.compare(
        "decorated call, sync",
        plain_in_nullcontext,
        tracked,
        baseline_name="plain call in nullcontext",
        target=5.0,
        number=20_000,
    )


def test_decorated_async_call(benchmark: Any, figures: Any) -> None:
    benchmark.group = "decorated call"
    subject = drive(tracked_async)
    benchmark(subject)
    figures.compare(
        "decorated call, async",
        drive(plain_async_in_nullcontext),
        subject,
        baseline_name="plain await in nullcontext",
        target=5.0,
        number=20_000,
    )


# -- record_usage ---------------------------------------------------------------------------


def record_priced() -> None:
    """One hand-recorded call, priced from genai-prices' data (rates cached per model)."""
    record_usage(model="gpt-4o-mini", input_tokens=1000, output_tokens=200)


def fresh_context() -> Callable[[], None]:
    """Enter a new context for one round; return what leaves it.

    Records go to the innermost context, which keeps them (up to a cap): one long-lived
    context would make later rounds pay for the garbage collector walking earlier records.
    """
    context = ai_usage_context("round")
    context.__enter__()
    return lambda: context.__exit__(None, None, None)


def test_record_usage_with_pricing(benchmark: Any, figures: Any) -> None:
    benchmark.group = "record_usage"
    leave = fresh_context()
    try:
        record_priced()  # import genai-prices and resolve the rate before calibrating
        benchmark(record_priced)
    finally:
        leave()
    figures.compare(
        "record_usage, priced",
        null_flat,
        record_priced,
        baseline_name="nullcontext",
        target=20.0,
        number=2_000,
        setup=fresh_context,
    )
