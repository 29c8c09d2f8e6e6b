"""Laws of budgets, on random trees of contexts making concurrent calls through the real SDK
to the loopback server:

* under every hard budget, what the calls below it really spent never goes over a limit
  (the calls are capped, and use no more than their caps, as a real API guarantees),
  whatever soft budgets sit above or below it;
* a refused call never reaches the server, and every call that was not refused does;
* a budget that is never reached changes nothing: same records, same totals.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import anthropic
import openai
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aiusage_core import (
    Budget,
    BudgetExceededError,
    UsageContext,
    UsageRecord,
    ai_usage_context,
    propagate,
    record_usage,
    wrap_anthropic,
    wrap_openai,
)
from pytest_aiusage.fake_openai import FakeOpenAI

API_KEY = "sk-test-budget-laws"

HAIKU = "claude-haiku-4-5"
PROMPT = len(
    repr(
        {
            "messages": [{"role": "user", "content": "call-0"}],
            "model": "gpt-4o-mini",
            "max_tokens": 20,
        }
    )
)
"""The smallest input bound of the plans' requests (the length of the shortest body)."""
ANTHROPIC_PROMPT = len(
    repr({"max_tokens": 20, "messages": [{"role": "user", "content": "call-0"}], "model": HAIKU})
)


@dataclass
class Node:
    """A context of the plan: its budget, its calls (their output caps) and its children."""

    budget: Budget | None
    caps: list[int]
    children: list[Node] = field(default_factory=list)


def budgets(unit: Decimal) -> st.SearchStrategy[Budget | None]:
    """Budgets whose usd limits are 1-12 ``unit``\\s: sized so that none, one or a few of the
    provider's calls fit (a call's worst case is about 3 units)."""
    return st.one_of(
        st.none(),
        st.builds(
            Budget,
            usd=st.one_of(st.none(), st.integers(1, 12).map(lambda k: k * unit)),
            calls=st.one_of(st.none(), st.integers(0, 4)),
            output_tokens=st.one_of(st.none(), st.integers(0, 60)),
            # A request's input bound is the length of its body (about 100 bytes here).
            tokens=st.one_of(st.none(), st.integers(0, 400)),
            input_tokens=st.one_of(st.none(), st.integers(0, 300)),
            # Soft budgets among hard ones: they reserve but never refuse.
            on_exceed=st.sampled_from(["raise", "raise", "warn"]),
        ),
    )


def trees(unit: Decimal) -> st.SearchStrategy[Node]:
    return st.recursive(
        st.builds(Node, budgets(unit), st.lists(st.integers(20, 30), max_size=3)),
        lambda children: st.builds(
            Node,
            budgets(unit),
            st.lists(st.integers(20, 30), max_size=2),
            st.lists(children, max_size=3),
        ),
        max_leaves=6,
    )


OPENAI_UNIT = Decimal("0.00001")  # gpt-4o-mini: $0.15 / $0.60 per million tokens
ANTHROPIC_UNIT = Decimal("0.0001")  # claude-haiku-4-5: $1 / $5 per million tokens
nodes = trees(OPENAI_UNIT)


@pytest.fixture(scope="module")
def server() -> Any:
    with FakeOpenAI() as fake:
        yield fake


class Plan:
    """Runs a tree of contexts; every call has a unique id in its message."""

    def __init__(
        self, server: FakeOpenAI, tree: Node, completion: int, provider: str = "openai"
    ) -> None:
        server.reset()
        self.provider = provider
        self.server = server
        self.tree = tree
        self.ids = itertools.count()
        self.refused: set[str] = set()
        self.attempted: set[str] = set()
        self.lock = threading.Lock()
        self.contexts: list[tuple[Node, UsageContext]] = []
        # Every call uses as much as the smallest worst case of the plan allows, so that real
        # spend is close to what was reserved: a reservation rule that let too many calls
        # through would show as real spend over a limit.
        usage = (
            {"prompt_tokens": PROMPT, "completion_tokens": completion}
            if provider == "openai"
            else {"input_tokens": ANTHROPIC_PROMPT, "output_tokens": completion}
        )
        for _ in range(_count_calls(tree)):
            server.reply(usage=usage)

    def _new_call(self) -> str:
        with self.lock:
            call_id = f"call-{next(self.ids)}"
            self.attempted.add(call_id)
        return call_id

    def run_threads(self, client: Any) -> None:
        def run(node: Node) -> None:
            with ai_usage_context("node", budget=node.budget) as ctx:
                self.contexts.append((node, ctx))
                threads = [
                    threading.Thread(target=propagate(call), args=(cap,)) for cap in node.caps
                ]
                threads += [
                    threading.Thread(target=propagate(run), args=(child,))
                    for child in node.children
                ]
                for thread in threads:
                    thread.start()
                for thread in threads:
                    thread.join()

        def call(cap: int) -> None:
            call_id = self._new_call()
            messages = [{"role": "user", "content": call_id}]
            try:
                if self.provider == "openai":
                    client.chat.completions.create(
                        model="gpt-4o-mini", messages=messages, max_tokens=cap
                    )
                else:
                    client.messages.create(model=HAIKU, messages=messages, max_tokens=cap)
            except BudgetExceededError:
                with self.lock:
                    self.refused.add(call_id)

        run(self.tree)

    async def run_tasks(self, client: Any) -> None:
        async def run(node: Node) -> None:
            async with ai_usage_context("node", budget=node.budget) as ctx:
                self.contexts.append((node, ctx))
                await asyncio.gather(
                    *(call(cap) for cap in node.caps), *(run(child) for child in node.children)
                )

        async def call(cap: int) -> None:
            call_id = self._new_call()
            messages = [{"role": "user", "content": call_id}]
            try:
                if self.provider == "openai":
                    await client.chat.completions.create(
                        model="gpt-4o-mini", messages=messages, max_tokens=cap
                    )
                else:
                    await client.messages.create(model=HAIKU, messages=messages, max_tokens=cap)
            except BudgetExceededError:
                self.refused.add(call_id)

        await run(self.tree)

    def check(self) -> None:
        sent = [r.json["messages"][0]["content"] for r in self.server.requests]
        assert len(sent) == len(set(sent))
        assert set(sent) == self.attempted - self.refused  # refused calls never left
        for node, ctx in self.contexts:
            budget = node.budget
            if budget is None:
                continue
            assert ctx.budget is not None
            assert ctx.budget.reserved.calls == 0
            if not budget.hard:
                continue  # a soft budget reports; only hard ones hold their limits
            totals = ctx.totals
            if budget.usd is not None:
                assert totals.cost_usd <= budget.usd
            if budget.calls is not None:
                assert totals.calls <= budget.calls
            if budget.output_tokens is not None:
                assert totals.output_tokens <= budget.output_tokens
            if budget.input_tokens is not None:
                assert totals.input_tokens <= budget.input_tokens
            if budget.tokens is not None:
                assert totals.input_tokens + totals.output_tokens <= budget.tokens
            assert not ctx.budget.exceeded


def _count_calls(node: Node) -> int:
    return len(node.caps) + sum(_count_calls(c) for c in node.children)


def _smallest_cap(node: Node) -> int:
    return min([*node.caps, *(_smallest_cap(c) for c in node.children), 30])


def _completion(data: Any, tree: Node) -> int:
    """Output tokens every call of the plan uses: mostly its smallest cap (the most allowed)."""
    smallest = _smallest_cap(tree)
    return int(
        data.draw(st.one_of(st.just(smallest), st.integers(0, smallest)), label="completion")
    )


@settings(max_examples=40)
@given(tree=nodes, data=st.data())
def test_threads_never_overspend_a_hard_budget(server: FakeOpenAI, tree: Node, data: Any) -> None:
    plan = Plan(server, tree, _completion(data, tree))
    with openai.OpenAI(api_key=API_KEY, base_url=server.url, max_retries=0) as raw:
        plan.run_threads(wrap_openai(raw))
    plan.check()


@settings(max_examples=25)
@given(tree=trees(ANTHROPIC_UNIT), data=st.data())
def test_anthropic_calls_never_overspend_a_hard_budget(
    server: FakeOpenAI, tree: Node, data: Any
) -> None:
    # The same laws through the Anthropic adapter: budgets reserve at the engine's seam.
    plan = Plan(server, tree, _completion(data, tree), provider="anthropic")
    with anthropic.Anthropic(api_key=API_KEY, base_url=server.anthropic_url, max_retries=0) as raw:
        plan.run_threads(wrap_anthropic(raw))
    plan.check()


@settings(max_examples=40)
@given(tree=nodes, data=st.data())
def test_tasks_never_overspend_a_hard_budget(server: FakeOpenAI, tree: Node, data: Any) -> None:
    plan = Plan(server, tree, _completion(data, tree))

    async def main() -> None:
        async with openai.AsyncOpenAI(api_key=API_KEY, base_url=server.url, max_retries=0) as raw:
            await plan.run_tasks(wrap_openai(raw))

    asyncio.run(main())
    plan.check()


@settings(max_examples=25)
@given(tree=trees(ANTHROPIC_UNIT), data=st.data())
def test_anthropic_tasks_never_overspend_a_hard_budget(
    server: FakeOpenAI, tree: Node, data: Any
) -> None:
    plan = Plan(server, tree, _completion(data, tree), provider="anthropic")

    async def main() -> None:
        async with anthropic.AsyncAnthropic(
            api_key=API_KEY, base_url=server.anthropic_url, max_retries=0
        ) as raw:
            await plan.run_tasks(wrap_anthropic(raw))

    asyncio.run(main())
    plan.check()


def _comparable(record: UsageRecord) -> tuple[Any, ...]:
    return (
        record.model,
        record.api,
        record.input_tokens,
        record.output_tokens,
        record.cost_usd,
        record.context_path,
        dict(record.metadata),
        record.usage_status,
        record.request_id,
    )


@settings(max_examples=20)
@given(
    steps=st.lists(
        st.tuples(st.sampled_from(["call", "manual"]), st.integers(1, 50), st.booleans()),
        max_size=6,
    )
)
def test_a_budget_never_reached_changes_nothing(
    server: FakeOpenAI, steps: list[tuple[str, int, bool]]
) -> None:
    def run(budget: Budget | None) -> tuple[list[tuple[Any, ...]], Any]:
        server.reset()
        with (
            openai.OpenAI(api_key=API_KEY, base_url=server.url, max_retries=0) as raw,
            ai_usage_context("job", budget=budget, team="ocr") as job,
        ):
            client = wrap_openai(raw)
            for kind, amount, inner in steps:
                with ai_usage_context("step", budget=budget if inner else None):
                    if kind == "call":
                        client.chat.completions.create(
                            model="gpt-4o-mini",
                            messages=[{"role": "user", "content": "hi"}],
                            max_tokens=amount,
                        )
                    else:
                        record_usage(model="gpt-4o-mini", input_tokens=amount)
        return [_comparable(r) for r in job.records], job.totals

    ample = Budget(usd=100, tokens=10**9, calls=1000)
    assert run(ample) == run(None)
