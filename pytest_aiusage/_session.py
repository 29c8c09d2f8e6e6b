"""The plugin's state for one session (kept in ``config.stash``) and the life of each test's
usage context.

Per test: the protocol opens a context named by the node id (setup, call and teardown run in
it); the setup resolves the budget; the call and teardown reports are judged against it; the
teardown report carries the test's usage (a JSON-ready payload) to whichever process reports,
so a serial run and an xdist controller aggregate the same way.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterable, Mapping
from dataclasses import replace
from decimal import Decimal
from functools import partial
from types import MappingProxyType
from typing import Any

import pytest

from aiusage_core import (
    ConfigurationError,
    PriceQuery,
    PriceResolver,
    UsageContext,
    UsageRecord,
    UsageTotals,
    ai_usage_context,
    configure,
    settings,
)
from aiusage_core._delivery import add_listener, remove_listener
from aiusage_core._money import decimal_str, usd_each

from ._budget import (
    ResolvedBudget,
    check_budget,
    marker_layers,
    marker_rules,
)
from ._format import PROPAGATION_HINT, by_model, calls_summary, unpropagated_text
from ._options import Options
from ._outputs import write_outputs
from ._report import write_json
from ._results import NodeUsage, SessionUsage
from ._scopes import Detached, open_detached
from ._xdist import is_worker, send_leftovers, stop_session

__all__ = ["BUDGET", "CONTEXT", "PAYLOAD_ATTR", "STATE", "SessionState", "fixture_name", "state_of"]

PAYLOAD_ATTR = "aiusage"
"""The attribute of a teardown report that carries the test's usage (a JSON-ready dict)."""

CONTEXT = pytest.StashKey[UsageContext]()
"""The running test's usage context, in ``item.stash``."""
BUDGET = pytest.StashKey[ResolvedBudget]()
"""The test's resolved budget, in ``item.stash`` (absent when its markers are invalid)."""
_USAGE = pytest.StashKey[NodeUsage]()
_FLAGGED = pytest.StashKey[set[str]]()
_RAISED = pytest.StashKey[str]()
"""The text of the budget failure raised in the call phase, if any."""
_WARNINGS = pytest.StashKey[list[str]]()
_ATTACHED = pytest.StashKey[bool]()  # the test's usage went out on its teardown report
_PER_ATTEMPT: tuple[pytest.StashKey[Any], ...] = (
    CONTEXT,
    BUDGET,
    _USAGE,
    _FLAGGED,
    _RAISED,
    _WARNINGS,
    _ATTACHED,
)
"""What one run of a test keeps in ``item.stash``: forgotten when the next attempt starts."""

_STRICT_HINT = PROPAGATION_HINT


def fixture_name(fixturedef: pytest.FixtureDef[Any]) -> str:
    """``"<where the fixture is defined>::<name>"`` (just the name for a root conftest)."""
    return f"{fixturedef.baseid}::{fixturedef.argname}" if fixturedef.baseid else fixturedef.argname


class SessionState:
    """Everything the plugin remembers during one session."""

    def __init__(self, config: pytest.Config, options: Options) -> None:
        self.config = config
        self.options = options
        self.worker = is_worker(config)
        self.session: pytest.Session | None = None
        self.current: pytest.Item | None = None
        self._attempt: UsageContext | None = None
        """The usage context of the running attempt of the current test, entered."""
        self._lock = threading.Lock()
        # Calls outside any usage context, during the running test and between tests.
        self._outside_now: list[UsageRecord] = []
        self._outside_idle: list[UsageRecord] = []
        # Wider-scoped fixture usage waiting to travel on the running test's teardown report.
        self._pending: list[NodeUsage] = []
        self._teardowns: dict[int, tuple[pytest.FixtureDef[Any], Detached]] = {}
        # What the reporting process has received.
        self._nodes: list[NodeUsage] = []
        self.warnings: list[str] = []
        self.totals = UsageTotals()
        """Sums over everything received so far (what the session budget is checked on)."""
        self.stop_message: str | None = None
        self.json_error: str | None = None
        self._tests: dict[str, NodeUsage] = {}
        self.written: list[str] = []
        """What the HTML report and Markdown summary writers said (paths, errors)."""
        """Why the JSON report could not be written, if it could not."""
        self._resolver: PriceResolver | None = None
        self._previous_resolver: PriceResolver | None = None

    # -- start and stop ------------------------------------------------------------------

    def start(self) -> None:
        """Listen to records and price through the ``pytest_aiusage_price`` hook."""
        add_listener(self._on_record)
        previous = settings().pricer.resolver
        price_hook = self.config.hook.pytest_aiusage_price

        def resolve(query: PriceQuery) -> Decimal | None:
            price: Decimal | None = price_hook(query=query)
            if price is None and previous is not None:
                return previous(query)
            return price

        self._resolver, self._previous_resolver = resolve, previous
        configure(price_resolver=resolve)

    def stop(self) -> None:
        """Undo :meth:`start` (leaving any later configuration by the user alone)."""
        remove_listener(self._on_record)
        if self._resolver is not None and settings().pricer.resolver is self._resolver:
            configure(price_resolver=self._previous_resolver)
        self._resolver = None

    def _on_record(self, record: UsageRecord) -> None:
        item = self.current
        if not record.context_path:
            with self._lock:
                (self._outside_now if item is not None else self._outside_idle).append(record)
        self.config.hook.pytest_aiusage_record(record=record, item=item)

    # -- a test's life ---------------------------------------------------------------------

    def open_test(self, item: pytest.Item) -> None:
        """The test's protocol begins (its first attempt begins at :meth:`start_attempt`)."""
        self._park_outside()
        self.current = item

    def start_attempt(self, item: pytest.Item) -> None:
        """A run of the test begins (``pytest_runtest_logstart``: once, or once per attempt
        under pytest-rerunfailures): close the previous attempt's context, and open and enter
        a new one, so that each attempt has its own usage, budget verdict and report."""
        self._close_attempt()
        for key in _PER_ATTEMPT:
            if key in item.stash:
                del item.stash[key]
        # adopt_threads: a call made, or a root context opened, in a thread that did not
        # inherit the test's context (a plain threading.Thread) still belongs to the test.
        context = ai_usage_context(item.nodeid, adopt_threads=True)
        item.stash[CONTEXT] = context
        context.__enter__()
        self._attempt = context

    def ensure_attempt(self, item: pytest.Item) -> None:
        """Start an attempt at setup if no ``pytest_runtest_logstart`` started one (a plugin
        that runs the protocol without logging its start)."""
        if self._attempt is None or item.stash.get(CONTEXT, None) is not self._attempt:
            self.start_attempt(item)

    def _close_attempt(self) -> None:
        context, self._attempt = self._attempt, None
        if context is not None:
            context.__exit__(None, None, None)

    def interrupt_test(self, item: pytest.Item) -> None:
        """The protocol was cut short (Ctrl-C): no teardown report will carry the test's
        usage, so keep it for the session's reports here."""
        if item.stash.get(_ATTACHED, False):
            return
        context = item.stash.get(CONTEXT, None)
        if context is None or not context.totals.calls:
            return
        usage = NodeUsage.of_records(
            item.nodeid,
            context.records,
            with_calls=self.options.json_calls,
            unpropagated=MappingProxyType(context.unpropagated),
        )
        with self._lock:
            self._pending.append(usage)

    def close_test(self, item: pytest.Item) -> None:
        """The protocol is over: calls from now on happen between tests."""
        self._close_attempt()
        self.current = None
        self._park_outside()

    def _park_outside(self) -> None:
        # Stray calls no test report took with it count as made between tests.
        if self._outside_now:
            with self._lock:
                self._outside_idle.extend(self._outside_now)
                self._outside_now = []

    def resolve_budget(self, item: pytest.Item) -> None:
        """Find the test's budget; invalid ``ai_budget`` markers fail its setup."""
        try:
            layers = marker_layers(item)
            resolved = (
                ResolvedBudget.of_layers([*layers, *self.options.budget_layers])
                if layers
                else self.options.default_budget
            )
            rules = marker_rules(item)
        except ConfigurationError as exc:
            problem = str(exc)
        else:
            options = self.options
            hard, _ = rules.hard or options.hard_budget
            if hard:
                # The marker nearest the test wins, then the command line, then the ini file.
                cap, _ = rules.output_cap or options.output_cap
                refuse, _ = rules.refuse_unbounded or options.refuse_unbounded
                resolved = dataclasses.replace(
                    resolved, hard=True, output_cap=cap, refuse_unbounded=refuse
                )
                context = item.stash.get(CONTEXT, None)
                if context is not None and not resolved.budget.is_empty:
                    # Refused before sending: a recording run stops where a replay does.
                    context._give_budget(resolved.core_budget())
            item.stash[BUDGET] = resolved
            return
        # Outside the except block, so the report shows the message and no chained traceback.
        pytest.fail(problem, pytrace=False)

    def finish_test(self, item: pytest.Item) -> None:
        """Teardown is done: sum up the test's usage and add its JUnit XML properties."""
        context = item.stash.get(CONTEXT, None)
        if context is None:
            return
        totals = context.totals
        if not totals.calls:
            return
        resolved = item.stash.get(BUDGET, None)
        budget = resolved.budget if resolved is not None else None
        usage = NodeUsage.of_records(
            item.nodeid,
            context.records,
            with_calls=self.options.json_calls,
            unpropagated=MappingProxyType(context.unpropagated),
            budget=MappingProxyType(budget.limits() if budget is not None else {}),
            over_budget=budget.exceeded(totals) if budget is not None else (),
        )
        item.stash[_USAGE] = usage
        item.user_properties.extend(
            [
                ("aiusage_calls", totals.calls),
                ("aiusage_input_tokens", totals.input_tokens),
                ("aiusage_output_tokens", totals.output_tokens),
                ("aiusage_total_tokens", totals.total_tokens),
                ("aiusage_cost_usd", decimal_str(totals.cost_usd)),
                ("aiusage_unpriced_calls", totals.unpriced_calls),
            ]
        )

    def judge(self, item: pytest.Item, report: pytest.TestReport) -> None:
        """Fail the call or teardown report of a test over budget (or, in strict mode, one
        that made calls outside any usage context); attach the usage to the teardown report."""
        if report.when == "setup":
            return
        raised = item.stash.get(_RAISED, None)
        if raised is not None and report.when == "call" and report.failed:
            # Raised by fail_call_if_over: show the finding alone, without "Failed: ".
            report.longrepr = raised
        messages = self.findings(item)
        if messages:
            self._fail(item, report, "\n".join(messages))
        if report.when == "teardown":
            self._attach(item, report)

    def fail_call_if_over(self, item: pytest.Item) -> None:
        """Fail the call phase of a test whose usage broke its budget (or strict mode)."""
        findings = self.findings(item)
        if findings:
            text = "\n".join(findings)
            item.stash[_RAISED] = text
            pytest.fail(text, pytrace=False)

    def findings(self, item: pytest.Item) -> list[str]:
        """What is wrong with the test's AI usage so far (over budget, calls outside any
        context in strict mode), each finding reported once per test."""
        context = item.stash.get(CONTEXT, None)
        if context is None:
            return []
        totals = context.totals
        refused = context._budget.refusals if context._budget is not None else None
        if not totals.calls and not self._outside_now and not self._pending and not refused:
            # The common case, kept cheap: a test without AI calls.
            return []
        flagged = item.stash.setdefault(_FLAGGED, set())
        messages = []
        if refused and "refused" not in flagged:
            flagged.add("refused")
            more = f" (and {len(refused) - 1} more)" if len(refused) > 1 else ""
            messages.append(f"{refused[0]}{more}")
        resolved = item.stash.get(BUDGET, None)
        if totals.calls and resolved is not None:
            failure, warning = check_budget(
                resolved, totals, lambda: context.records, self.options.unpriced
            )
            if failure and "budget" not in flagged:
                flagged.add("budget")
                messages.append(failure)
            if warning and "unpriced" not in flagged:
                flagged.add("unpriced")
                item.stash.setdefault(_WARNINGS, []).append(f"{item.nodeid}: {warning}")
        if self.options.strict and "unpropagated" not in flagged:
            unpropagated = context.unpropagated
            if unpropagated:
                flagged.add("unpropagated")
                messages.append(
                    f"{unpropagated_text(unpropagated)} (--aiusage-strict); {_STRICT_HINT}"
                )
        if self.options.strict and self._outside_now and "outside" not in flagged:
            flagged.add("outside")
            with self._lock:
                outside = list(self._outside_now)
            messages.append(
                f"AI call outside any usage context during this test (--aiusage-strict): "
                f"{calls_summary(by_model(outside))}; {_STRICT_HINT}"
            )
        return messages

    def _fail(self, item: pytest.Item, report: pytest.TestReport, text: str) -> None:
        if report.passed:
            report.outcome = "failed"
            report.longrepr = text
        elif report.failed:
            report.sections.append(("AI usage", text))
        else:
            # A skipped (or xfailed) test did not pass; failing it would hide why it was
            # skipped, so the finding goes to the summary instead.
            first = text.splitlines()[0]
            item.stash.setdefault(_WARNINGS, []).append(
                f"{item.nodeid}: {first} (the test was skipped, so it was not failed)"
            )

    def _attach(self, item: pytest.Item, report: pytest.TestReport) -> None:
        item.stash[_ATTACHED] = True
        nodes: list[dict[str, Any]] = []
        usage = item.stash.get(_USAGE, None)
        if usage is not None:
            nodes.append(usage.to_dict())
        with self._lock:
            pending, self._pending = self._pending, []
            outside, self._outside_now = self._outside_now, []
        nodes.extend(p.to_dict() for p in pending)
        if outside:
            nodes.append(NodeUsage.of_records(item.nodeid, outside, kind="outside").to_dict())
        warnings = item.stash.get(_WARNINGS, [])
        if nodes or warnings:
            setattr(report, PAYLOAD_ATTR, {"nodes": nodes, "warnings": list(warnings)})

    # -- wider-scoped fixtures ------------------------------------------------------------

    def open_fixture(self, fixturedef: pytest.FixtureDef[Any], phase: str) -> Detached:
        """Open the root context a wider-scoped fixture's setup or teardown runs in."""
        return open_detached(f"{fixture_name(fixturedef)} ({fixturedef.scope} fixture {phase})")

    def close_fixture(
        self, fixturedef: pytest.FixtureDef[Any], phase: str, detached: Detached
    ) -> None:
        """Close it and keep its usage for the running test's report."""
        detached.close()
        totals = detached.context.totals
        if not totals.calls:
            return
        current = self.current
        usage = NodeUsage.of_records(
            fixture_name(fixturedef),
            detached.context.records,
            with_calls=self.options.json_calls,
            kind="fixture",
            scope=fixturedef.scope,
            phase=phase,
            during=current.nodeid if current is not None else None,
        )
        with self._lock:
            self._pending.append(usage)

    def watch_teardown(self, fixturedef: pytest.FixtureDef[Any]) -> None:
        """Arrange for the fixture's teardown to run in a context of its own.

        Finalizers run last-in first-out, so one added after the fixture's setup runs just
        before its teardown code, and ``pytest_fixture_post_finalizer`` right after it.
        """
        fixturedef.addfinalizer(partial(self._open_teardown, fixturedef))

    def _open_teardown(self, fixturedef: pytest.FixtureDef[Any]) -> None:
        self._teardowns[id(fixturedef)] = (fixturedef, self.open_fixture(fixturedef, "teardown"))

    def fixture_finalized(self, fixturedef: pytest.FixtureDef[Any]) -> None:
        """``pytest_fixture_post_finalizer``: close the teardown context, if one is open."""
        entry = self._teardowns.pop(id(fixturedef), None)
        if entry is not None:
            self.close_fixture(fixturedef, "teardown", entry[1])

    # -- reporting process ----------------------------------------------------------------

    def collect_report(self, report: pytest.TestReport) -> None:
        """Take a test's usage off its teardown report (from this process or a worker)."""
        payload = getattr(report, PAYLOAD_ATTR, None) or {"nodes": ()}
        nodes = [NodeUsage.from_dict(n) for n in payload.get("nodes", ())]
        if not any(n.kind == "test" for n in nodes):
            nodes.insert(0, NodeUsage(nodeid=report.nodeid))
        rerun = getattr(report, "rerun", 0)  # set by pytest-rerunfailures on every run's reports
        if rerun:
            nodes = [replace(n, rerun=rerun) if n.kind == "test" else n for n in nodes]
        self.add(nodes, payload.get("warnings", ()))

    def collect_payload(self, payload: Mapping[str, Any]) -> None:
        """Take usage sent apart from any test report (an xdist worker's leftovers)."""
        self.add([NodeUsage.from_dict(n) for n in payload.get("nodes", ())], ())
        self.warnings.extend(payload.get("warnings", ()))

    def add(self, nodes: Iterable[NodeUsage], warnings: Iterable[str]) -> None:
        """Count ``nodes`` towards the session and check the session budget."""
        hook = self.config.hook.pytest_aiusage_node_usage
        for node in nodes:
            self._nodes.append(node)
            if node.kind == "test":
                self._tests[node.nodeid] = node
            if node.totals.calls:
                self.totals = self.totals + node.totals  # exact: UsageTotals adds money exactly
            hook(usage=node, config=self.config)
        self.warnings.extend(warnings)
        limit = self.options.max_usd
        cost = self.totals.cost_usd
        if limit is not None and self.stop_message is None and cost > limit:
            spent, most = usd_each([cost, limit])
            self.stop_message = (
                f"AI session budget exceeded: cost {spent} > limit {most} "
                f"({self.options.max_usd_source})"
            )
            if self.session is not None:
                stop_session(self.session, self.stop_message)

    def leftovers(self) -> dict[str, Any]:
        """Usage that no test report carried (calls between tests, fixtures torn down after
        the last test), as a payload; forgets it."""
        for fixturedef, detached in reversed(list(self._teardowns.values())):
            self.close_fixture(fixturedef, "teardown", detached)
        self._teardowns.clear()
        with self._lock:
            pending, self._pending = self._pending, []
            idle = [*self._outside_idle, *self._outside_now]
            self._outside_idle, self._outside_now = [], []
        nodes = [p.to_dict() for p in pending]
        if idle:
            nodes.append(NodeUsage.of_records("", idle, kind="outside").to_dict())
        return {"nodes": nodes, "warnings": []}

    def finish_session(self, session: pytest.Session) -> None:
        """Gather what no test report carried; on the reporting process write the JSON
        report and make the exit status say whether the run stayed within its AI limits."""
        leftovers = self.leftovers()
        if self.worker:
            send_leftovers(self.config, leftovers)
            return
        self.collect_payload(leftovers)
        usage = self.snapshot()
        failed = self.stop_message is not None
        if self.options.strict and any(not o.nodeid for o in usage.outside):
            failed = True  # calls between tests: no test to fail, so the run fails
        path = self.options.json_path
        if path is not None:
            try:
                write_json(path, usage)
            except OSError as exc:
                self.json_error = f"the JSON report could not be written to {path}: {exc}"
                failed = True
        self.written = write_outputs(self.config, self.options, usage)
        if any(line.startswith("error:") for line in self.written):
            failed = True
        if failed and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def test_usage(self, nodeid: str) -> NodeUsage | None:
        """The usage of the test ``nodeid`` received so far (its last run), if any."""
        return self._tests.get(nodeid)

    def snapshot(self) -> SessionUsage:
        """The session's usage so far."""
        return SessionUsage.of(self._nodes)


STATE = pytest.StashKey[SessionState]()
"""The session's :class:`SessionState`, in ``config.stash``."""


def state_of(config: pytest.Config) -> SessionState:
    """The plugin's state for ``config``."""
    return config.stash[STATE]
