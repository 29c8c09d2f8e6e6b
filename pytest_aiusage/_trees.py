"""Operation trees: nested usage contexts with calls at each node, and how to run them.

These are plain values with no dependency on hypothesis; :mod:`pytest_aiusage.strategies`
generates them and re-exports everything here.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterator, Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field
from decimal import Context, Decimal
from typing import Any, Literal

from aiusage_core import (
    ConfigurationError,
    ContextThreadPoolExecutor,
    PriceQuery,
    UsageContext,
    UsageRecord,
    UsageTotals,
    ai_usage_context,
    record_usage,
    settings,
)

__all__ = [
    "CallSpec",
    "Concurrency",
    "ContextTree",
    "TreeRun",
    "arun_tree",
    "expected_totals",
    "run_tree",
]

Concurrency = Literal["sequential", "asyncio", "threads"]
"""How :func:`run_tree` runs the children of a node.

``sequential``: one after the other, after the node's own calls. ``asyncio``: the node's own
calls and each child as concurrent asyncio tasks that yield to each other between calls.
``threads``: each child in a :class:`~aiusage_core.ContextThreadPoolExecutor` thread while
the node's own calls run in the parent's thread.
"""

# Sums of costs use a wide context so a caller's decimal precision cannot round them.
_MONEY = Context(prec=60)


@dataclass(frozen=True, slots=True, kw_only=True)
class CallSpec:
    """One AI call to make by hand with :func:`aiusage_core.record_usage`.

    >>> CallSpec(model="gpt-4o-mini", input_tokens=1200, output_tokens=80).record()
    ... # doctest: +SKIP
    """

    model: str
    """The model id (an unknown id makes an unpriced record)."""
    input_tokens: int = 0
    """Input tokens, including the cached ones."""
    output_tokens: int = 0
    """Output tokens, including the reasoning ones."""
    cached_input_tokens: int = 0
    """Input tokens read from the prompt cache (at most ``input_tokens``)."""
    reasoning_tokens: int = 0
    """Reasoning tokens (at most ``output_tokens``)."""
    api: str = "chat"
    """The API named on the record."""
    cost_usd: Decimal | None = None
    """A cost given by hand; ``None`` lets aiusage price the call."""
    error: str | None = None
    """A failure message: the record counts as a failed call."""

    def record(self) -> UsageRecord:
        """Record this call in the current usage context and return the record."""
        return record_usage(
            model=self.model,
            api=self.api,
            input_tokens=self.input_tokens,
            output_tokens=self.output_tokens,
            cached_input_tokens=self.cached_input_tokens,
            reasoning_tokens=self.reasoning_tokens,
            cost_usd=self.cost_usd,
            error=self.error,
        )

    def expected_cost(self) -> Decimal | None:
        """The cost the record should carry: the given one, else the configured price."""
        if self.cost_usd is not None:
            return self.cost_usd
        return settings().pricer.price(
            PriceQuery(
                model=self.model,
                provider="openai",
                api=self.api,
                input_tokens=self.input_tokens,
                cached_input_tokens=self.cached_input_tokens,
                output_tokens=self.output_tokens,
                reasoning_tokens=self.reasoning_tokens,
            )
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class ContextTree:
    """A usage context to open, the calls to make in it, and the contexts nested in it.

    ::

        tree = ContextTree(
            operation_type="receipt_batch",
            metadata={"job_id": "job-1"},
            calls=(CallSpec(model="gpt-4o-mini", input_tokens=100, output_tokens=10),),
            children=(ContextTree(operation_type="ocr", calls=(...,)),),
        )
        run = run_tree(tree)
        assert run.context.totals == expected_totals(tree)
    """

    operation_type: str
    """The context's operation type."""
    metadata: Mapping[str, Any] = field(default_factory=dict, hash=False)
    """The context's own metadata (passed as ``ai_usage_context(..., **metadata)``)."""
    calls: tuple[CallSpec, ...] = ()
    """Calls made directly in this context."""
    children: tuple[ContextTree, ...] = ()
    """Contexts opened inside this one."""

    def walk(self) -> Iterator[ContextTree]:
        """This node and every descendant, depth first, parents before children."""
        yield self
        for child in self.children:
            yield from child.walk()

    @property
    def size(self) -> int:
        """Number of contexts in the tree."""
        return sum(1 for _ in self.walk())

    @property
    def depth(self) -> int:
        """Levels of nesting: 1 for a tree without children."""
        return 1 + max((child.depth for child in self.children), default=0)

    @property
    def call_count(self) -> int:
        """Number of calls in the whole tree."""
        return sum(len(node.calls) for node in self.walk())


@dataclass(frozen=True, slots=True, eq=False)
class TreeRun:
    """What :func:`run_tree` did for one node: its context and the records of its own calls."""

    tree: ContextTree
    """The node that was run."""
    context: UsageContext
    """The usage context opened for it (closed by now)."""
    records: tuple[UsageRecord, ...]
    """Records of this node's own calls, in the order they were made."""
    children: tuple[TreeRun, ...]
    """The runs of the node's children, in the tree's order."""

    def walk(self) -> Iterator[TreeRun]:
        """This run and every descendant run, parents before children."""
        yield self
        for child in self.children:
            yield from child.walk()

    @property
    def subtree_records(self) -> tuple[UsageRecord, ...]:
        """Records of this node and its descendants: own records first, then each child's."""
        return tuple(record for run in self.walk() for record in run.records)


def expected_totals(tree: ContextTree) -> UsageTotals:
    """The totals a context run from ``tree`` must report, computed from the specs alone.

    Costs are the specs' own ``cost_usd`` or, when unset, the configured price at standard
    (not Batch) rates; a call with no known price counts in ``unpriced_calls``.
    """
    calls = input_tokens = cached = output_tokens = reasoning = unpriced = errors = 0
    cost = Decimal(0)
    for node in tree.walk():
        for spec in node.calls:
            calls += 1
            input_tokens += spec.input_tokens
            cached += spec.cached_input_tokens
            output_tokens += spec.output_tokens
            reasoning += spec.reasoning_tokens
            errors += spec.error is not None
            price = spec.expected_cost()
            if price is None:
                unpriced += 1
            else:
                cost = _MONEY.add(cost, price)
    return UsageTotals(
        calls=calls,
        input_tokens=input_tokens,
        cached_input_tokens=cached,
        output_tokens=output_tokens,
        reasoning_tokens=reasoning,
        cost_usd=cost,
        unpriced_calls=unpriced,
        errors=errors,
    )


def run_tree(
    tree: ContextTree,
    *,
    concurrency: Concurrency = "sequential",
    interleaving: random.Random | None = None,
) -> TreeRun:
    """Open the tree's contexts nested as in the tree and make its calls; return the run.

    Runs inside whatever usage context is current. In ``"sequential"`` mode a node makes its
    own calls, then runs its children in order. ``interleaving`` (``"asyncio"`` and
    ``"threads"`` only) varies the schedule: children start in an order it shuffles, and in
    asyncio each call waits 0 to 3 turns of the event loop it picks (hypothesis'
    ``st.randoms()`` makes such schedules shrinkable).

    ``concurrency="asyncio"`` uses :func:`asyncio.run`, so it cannot be used while an event
    loop is running in this thread: ``await arun_tree(tree)`` there instead.

    >>> run = run_tree(tree, concurrency="threads")  # doctest: +SKIP
    >>> all(r.context.totals == expected_totals(r.tree) for r in run.walk())  # doctest: +SKIP
    True
    """
    if concurrency == "sequential":
        if interleaving is not None:
            raise ConfigurationError(
                "run_tree(interleaving=...) needs concurrency='asyncio' or 'threads'; "
                "a sequential run has one schedule",
                name="interleaving",
                value=interleaving,
            )
        return _run_sequential(tree)
    if concurrency == "threads":
        return _run_threads(tree, _plan(tree, interleaving))
    if concurrency == "asyncio":
        return asyncio.run(arun_tree(tree, interleaving=interleaving))
    raise ConfigurationError(
        f"run_tree(concurrency={concurrency!r}): expected 'sequential', 'asyncio' or 'threads'",
        name="concurrency",
        value=concurrency,
    )


@dataclass(frozen=True, slots=True)
class _Schedule:
    """When a node's children start and how long each of its calls waits first."""

    start_order: tuple[int, ...]
    """Indexes of the children, in the order they are started."""
    pauses: tuple[int, ...] | None
    """Event-loop turns to wait before each own call; ``None``: one turn after each."""
    children: tuple[_Schedule, ...]


def _plan(tree: ContextTree, interleaving: random.Random | None) -> _Schedule:
    """Draw the whole schedule before anything runs.

    Every random choice is made here, in the caller's thread: a hypothesis-made Random
    must not be drawn from by concurrent tasks or threads, nor after a failing task ended
    the example.
    """
    order = list(range(len(tree.children)))
    pauses: tuple[int, ...] | None = None
    if interleaving is not None:
        interleaving.shuffle(order)
        pauses = tuple(interleaving.randint(0, 3) for _ in tree.calls)
    return _Schedule(
        tuple(order), pauses, tuple(_plan(child, interleaving) for child in tree.children)
    )


async def arun_tree(tree: ContextTree, *, interleaving: random.Random | None = None) -> TreeRun:
    """Run ``tree`` on the running event loop: a node's own calls and each of its children
    run as concurrent tasks that yield to each other between calls, so calls of sibling
    contexts interleave. Without ``interleaving`` every call is followed by one
    ``await asyncio.sleep(0)``; see :func:`run_tree` for ``interleaving``."""
    return await _arun(tree, _plan(tree, interleaving))


async def _arun(tree: ContextTree, schedule: _Schedule) -> TreeRun:
    async with ai_usage_context(tree.operation_type, **tree.metadata) as context:
        # Tasks copy the current contextvars context when created: each sees this node's.
        own_task = asyncio.create_task(_own_calls_async(tree, schedule.pauses))
        child_tasks: dict[int, asyncio.Task[TreeRun]] = {}
        for i in schedule.start_order:
            child_tasks[i] = asyncio.create_task(_arun(tree.children[i], schedule.children[i]))
        await asyncio.gather(own_task, *child_tasks.values())
    children = tuple(child_tasks[i].result() for i in range(len(tree.children)))
    return TreeRun(tree, context, own_task.result(), children)


async def _own_calls_async(
    tree: ContextTree, pauses: tuple[int, ...] | None
) -> tuple[UsageRecord, ...]:
    records: list[UsageRecord] = []
    for i, spec in enumerate(tree.calls):
        if pauses is None:
            records.append(spec.record())
            await asyncio.sleep(0)
        else:
            for _ in range(pauses[i]):
                await asyncio.sleep(0)
            records.append(spec.record())
    return tuple(records)


def _run_sequential(tree: ContextTree) -> TreeRun:
    with ai_usage_context(tree.operation_type, **tree.metadata) as context:
        own = tuple(spec.record() for spec in tree.calls)
        children = tuple(_run_sequential(child) for child in tree.children)
    return TreeRun(tree, context, own, children)


def _run_threads(tree: ContextTree, schedule: _Schedule) -> TreeRun:
    with ai_usage_context(tree.operation_type, **tree.metadata) as context:
        if not tree.children:
            return TreeRun(tree, context, tuple(spec.record() for spec in tree.calls), ())
        # One pool per node: a parent waiting on its children must not hold a worker that
        # a grandchild needs.
        with ContextThreadPoolExecutor(max_workers=len(tree.children)) as pool:
            futures: dict[int, Future[TreeRun]] = {}
            for i in schedule.start_order:
                futures[i] = pool.submit(_run_threads, tree.children[i], schedule.children[i])
            own = tuple(spec.record() for spec in tree.calls)
            children = tuple(futures[i].result() for i in range(len(tree.children)))
    return TreeRun(tree, context, own, children)
