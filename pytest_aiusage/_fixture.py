"""The ``ai_usage`` fixture: the running test's usage, with assertion helpers."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import pytest

from aiusage_core import ConfigurationError, UsageContext, UsageRecord, UsageTotals, _money
from aiusage_core._models import model_matches
from aiusage_core._money import cost_text, usd_each

from ._budget import Budget, parse_usd, parse_whole, unknown_costs
from ._format import by_model, calls_summary, count, plural
from ._session import BUDGET, CONTEXT

__all__ = ["AIUsage", "ai_usage"]

_MISSING = object()


def _plain(value: Any) -> Any:
    """Frozen metadata (read-only mappings, tuples) as plain dicts and lists, to compare."""
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


class AIUsage:
    """The AI usage of the running test, returned by the ``ai_usage`` fixture.

    It reads the test's usage context live: setup, the test body and function-scoped
    fixtures so far. ::

        def test_labels_one_receipt(ai_usage, client):
            label_receipt(client, receipt)
            ai_usage.assert_calls(1)
            ai_usage.assert_cost_below("0.001")
            ai_usage.assert_propagated(job_id="job-123")
    """

    __slots__ = ("_budget", "_context", "nodeid")

    def __init__(self, context: UsageContext, nodeid: str, budget: Budget | None = None) -> None:
        self._context = context
        self._budget = budget if budget is not None else Budget()
        self.nodeid = nodeid
        """The test's node id (also the name of its usage context)."""

    @property
    def context(self) -> UsageContext:
        """The test's :class:`~aiusage_core.UsageContext`."""
        return self._context

    @property
    def budget(self) -> Budget:
        """The test's budget, resolved from markers, the command line and the ini file."""
        return self._budget

    @property
    def totals(self) -> UsageTotals:
        """Sums over the test's calls so far."""
        return self._context.totals

    @property
    def records(self) -> list[UsageRecord]:
        """The test's calls so far, in order (a copy)."""
        return self._context.records

    def by_model(self) -> dict[str, UsageTotals]:
        """Totals per model, models in alphabetical order."""
        return by_model(self._context.records)

    def calls_by_model(self) -> dict[str, int]:
        """Number of calls per model, models in alphabetical order."""
        return {model: totals.calls for model, totals in self.by_model().items()}

    def _summary(self) -> str:
        return calls_summary(self.by_model())

    # -- assertions ---------------------------------------------------------------------

    def assert_calls(
        self, expected: int, *, model: str | None = None, exact_model: bool = False
    ) -> None:
        """Assert that the test made exactly ``expected`` calls (of ``model``, if given).

        Records carry the model the API answered with, usually a dated snapshot: ``model=
        "gpt-4o-mini"`` counts ``gpt-4o-mini`` and ``gpt-4o-mini-2024-07-18`` calls alike;
        ``exact_model=True`` counts only calls of exactly that name.
        """
        __tracebackhide__ = True
        expected = parse_whole(expected, "assert_calls(expected)")
        if model is None:
            actual = self.totals.calls
        else:
            actual = sum(
                calls
                for name, calls in self.calls_by_model().items()
                if model_matches(model, name, exact=exact_model)
            )
        if actual != expected:
            of = f" of {model}" if model is not None else ""
            if model is not None and exact_model:
                of += " (exactly)"
            raise AssertionError(
                f"expected {plural(expected, 'AI call')}{of}, got {count(actual)} "
                f"({self._summary()})"
            )

    def assert_cost_below(self, usd: Decimal | int | float | str) -> None:
        """Assert that the test's calls cost less than ``usd`` dollars, all of them priced."""
        __tracebackhide__ = True
        limit = parse_usd(usd, "assert_cost_below(usd)")
        totals = self.totals
        if totals.unpriced_calls:
            reasons = unknown_costs(self._context.records)
            why = " and ".join(f"{plural(n, 'call')} {what}" for n, what, _ in reasons)
            hints = "; ".join(hint for _, _, hint in reasons)
            raise AssertionError(
                f"cannot check the AI cost against {_money.usd(limit)}: {why} "
                f"({self._summary()}); {hints}"
            )
        if not totals.cost_usd < limit:
            spent, most = usd_each([totals.cost_usd, limit])
            raise AssertionError(f"AI cost {spent} is not below {most} ({self._summary()})")

    def assert_tokens_below(self, tokens: int) -> None:
        """Assert that the test's calls used fewer than ``tokens`` tokens (input + output)."""
        __tracebackhide__ = True
        limit = parse_whole(tokens, "assert_tokens_below(tokens)")
        total = self.totals.total_tokens
        if not total < limit:
            raise AssertionError(
                f"AI tokens {count(total)} are not below {count(limit)} ({self._summary()})"
            )

    def assert_propagated(self, **metadata: Any) -> None:
        """Assert that the test made calls and every one carried these metadata values.

        The failure lists each call that did not, with what it carried instead.
        """
        __tracebackhide__ = True
        if not metadata:
            raise ConfigurationError(
                "assert_propagated() needs at least one key=value to look for",
                name="metadata",
                value=metadata,
            )
        records = self.records
        if not records:
            raise AssertionError(f"no AI calls were made, so none carried {_describe(metadata)}")
        wanted = {key: _plain(value) for key, value in metadata.items()}
        misses = []
        for number, record in enumerate(records, 1):
            wrong = []
            for key, value in wanted.items():
                actual = record.metadata.get(key, _MISSING)
                if actual is _MISSING:
                    wrong.append(f"{key} missing")
                elif _plain(actual) != value:
                    wrong.append(f"{key}={_plain(actual)!r}")
            if wrong:
                where = "/".join(record.context_path) or "outside any context"
                misses.append(f"  call {number}: {record.model} in {where}: {', '.join(wrong)}")
        if misses:
            raise AssertionError(
                f"{len(misses)} of {plural(len(records), 'AI call')} did not carry "
                f"{_describe(metadata)}:\n" + "\n".join(misses)
            )

    def __repr__(self) -> str:
        t = self.totals
        return (
            f"<AIUsage {self.nodeid!r} calls={t.calls} tokens={t.total_tokens} cost={cost_text(t)}>"
        )


def _describe(metadata: Mapping[str, Any]) -> str:
    return ", ".join(f"{key}={value!r}" for key, value in metadata.items())


@pytest.fixture
def ai_usage(request: pytest.FixtureRequest) -> AIUsage:
    """The running test's AI usage (an :class:`AIUsage`), with assertion helpers."""
    item = request.node
    context = item.stash.get(CONTEXT, None)
    if context is None:  # pragma: no cover - the plugin's protocol hook always sets it
        pytest.fail("ai_usage: the aiusage plugin opened no usage context for this test")
    resolved = item.stash.get(BUDGET, None)
    return AIUsage(context, item.nodeid, resolved.budget if resolved is not None else None)
