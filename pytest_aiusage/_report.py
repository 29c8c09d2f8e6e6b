"""The end-of-run report: the terminal summary section and the JSON file."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pytest

from aiusage_core import UsageTotals

from ._files import write_atomically
from ._format import count, money, plural
from ._results import NodeUsage, SessionUsage

__all__ = ["summary_lines", "write_json", "write_summary"]

TITLE = "AI usage"


def _cost(totals: UsageTotals) -> str:
    if totals.calls and totals.unpriced_calls == totals.calls:
        return "unpriced"
    if totals.unpriced_calls:
        return f"{money(totals.cost_usd)} + {plural(totals.unpriced_calls, 'unpriced call')}"
    return money(totals.cost_usd)


def _row(totals: UsageTotals, label: str) -> str:
    return (
        f"  {_cost(totals):>12}  {plural(totals.calls, 'call'):>10}  "
        f"{count(totals.input_tokens):>10} in  {count(totals.output_tokens):>10} out  {label}"
    )


def _fixture_rows(fixtures: Sequence[NodeUsage]) -> list[str]:
    merged: dict[tuple[str, str], UsageTotals] = {}
    phases: dict[tuple[str, str], list[str]] = {}
    for node in fixtures:
        key = (node.nodeid, node.scope or "")
        merged[key] = merged[key] + node.totals if key in merged else node.totals
        if node.phase and node.phase not in phases.setdefault(key, []):
            phases[key].append(node.phase)
    return [
        _row(totals, f"{name} ({scope} fixture, {' + '.join(phases.get((name, scope), []))})")
        for (name, scope), totals in merged.items()
    ]


def summary_lines(
    usage: SessionUsage,
    *,
    top: int,
    strict: bool,
    warnings: Sequence[str] = (),
    stop_message: str | None = None,
    json_path: Path | None = None,
    json_error: str | None = None,
) -> list[str]:
    """The lines of the terminal section; none when the run made no AI call (and nothing
    went wrong). ``json_error``: why the JSON report at ``json_path`` was not written."""
    if not usage.used_ai and not warnings and stop_message is None and json_error is None:
        return []
    totals = usage.totals
    used = [t for t in usage.tests if t.calls]
    lines = [
        f"total: {plural(totals.calls, 'call')}, {count(totals.input_tokens)} input + "
        f"{count(totals.output_tokens)} output = {count(totals.total_tokens)} tokens, "
        f"{_cost(totals)} ({len(used)} of {plural(len(usage.tests), 'test')} made AI calls)"
    ]
    models = usage.by_model()
    if models:
        lines.append("by model:")
        lines.extend(_row(t, model) for model, t in models.items())
    if top and used:
        shown = usage.most_expensive(top)
        lines.append(f"most expensive tests (top {len(shown)}):")
        lines.extend(_row(t.totals, t.nodeid) for t in shown)
    if usage.fixtures:
        fixture_totals = SessionUsage(fixtures=usage.fixtures).totals
        lines.append(
            f"wider-scoped fixtures (not counted in any test): "
            f"{plural(fixture_totals.calls, 'call')}, {_cost(fixture_totals)}"
        )
        lines.extend(_fixture_rows(usage.fixtures))
    if usage.outside:
        outside_totals = SessionUsage(outside=usage.outside).totals
        verdict = "failing the test" if strict else "use --aiusage-strict to fail the test"
        lines.append(
            f"outside any usage context: {plural(outside_totals.calls, 'call')}, "
            f"{_cost(outside_totals)} ({verdict})"
        )
        lines.extend(
            _row(o.totals, f"during {o.nodeid}" if o.nodeid else "between tests")
            for o in usage.outside
        )
    lines.extend(f"warning: {w}" for w in warnings)
    if stop_message is not None:
        lines.append(stop_message)
    if json_error is not None:
        lines.append(f"error: {json_error}")
    elif json_path is not None:
        lines.append(f"JSON report: {json_path}")
    return lines


def write_summary(
    terminalreporter: pytest.TerminalReporter, lines: Sequence[str], title: str = TITLE
) -> None:
    """Print the section titled ``title`` (nothing when ``lines`` is empty)."""
    if not lines:
        return
    terminalreporter.write_sep("=", title)
    for line in lines:
        terminalreporter.write_line(line)


def write_json(path: Path, usage: SessionUsage) -> None:
    """Write the JSON report (``{"version": 1, "totals": ..., "tests": [...]}``), atomically:
    a reader never sees half a report, and a failed write leaves the previous one."""
    write_atomically(path, json.dumps(usage.to_dict(), indent=2) + "\n")
