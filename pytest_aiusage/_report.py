"""The end-of-run report: the terminal summary section and the JSON file."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from aiusage_core import UsageTotals
from aiusage_core._money import cost_column, cost_text, decimals

from ._files import write_atomically
from ._format import PROPAGATION_HINT, count, plural, unpropagated_text
from ._results import NodeUsage, SessionUsage
from ._spend import spend_lines

__all__ = ["summary_lines", "write_json", "write_summary"]

TITLE = "AI usage"


Row = tuple[UsageTotals, str]
"""A table row of the summary: the figures and what they are of."""


def table_lines(rows: Sequence[Row], places: int | None = None) -> list[str]:
    """``rows`` as aligned lines: cost (every amount with the same decimals, aligned on the
    point), calls, input and output tokens, label."""
    costs = cost_column([t for t, _ in rows], places)
    return [
        f"  {cost}  {plural(t.calls, 'call'):>10}  {count(t.input_tokens):>10} in  "
        f"{count(t.output_tokens):>10} out  {label}"
        for cost, (t, label) in zip(costs, rows, strict=True)
    ]


def _fixture_rows(fixtures: Sequence[NodeUsage]) -> list[Row]:
    merged: dict[tuple[str, str], UsageTotals] = {}
    phases: dict[tuple[str, str], list[str]] = {}
    for node in fixtures:
        key = (node.nodeid, node.scope or "")
        merged[key] = merged[key] + node.totals if key in merged else node.totals
        if node.phase and node.phase not in phases.setdefault(key, []):
            phases[key].append(node.phase)
    return [
        (totals, f"{name} ({scope} fixture, {' + '.join(phases.get((name, scope), []))})")
        for (name, scope), totals in merged.items()
    ]


def summary_lines(
    usage: SessionUsage,
    *,
    top: int,
    strict: bool,
    verbose: bool = False,
    warnings: Sequence[str] = (),
    stop_message: str | None = None,
    json_path: Path | None = None,
    json_error: str | None = None,
    written: Sequence[str] = (),
) -> list[str]:
    """The lines of the terminal section; none when the run made no AI call (and nothing
    went wrong). ``json_error``: why the JSON report at ``json_path`` was not written.

    Every amount in the section has the same number of decimals; ``verbose`` adds, under
    each of the most expensive tests, what spent its money (operation and model)."""
    if (
        not usage.used_ai
        and not warnings
        and stop_message is None
        and json_error is None
        and not written
    ):
        return []
    totals = usage.totals
    used = [t for t in usage.tests if t.calls]
    # Every (totals, label) row of the section, in order; a str is a heading line.
    # Headings that show an amount are functions of the section's number of decimals.
    parts: list[str | Row | NodeUsage | Callable[[int], str]] = []
    models = usage.by_model()
    if models:
        parts.append("by model:")
        parts.extend((t, model) for model, t in models.items())
    if top and used:
        shown = usage.most_expensive(top)
        parts.append(f"most expensive tests (top {len(shown)}):")
        for test in shown:
            parts.append((test.totals, test.label))
            if verbose and test.spend:
                parts.append(test)
    fixture_totals = SessionUsage(fixtures=usage.fixtures).totals
    if usage.fixtures:
        parts.append(
            lambda places: (
                "wider-scoped fixtures (not counted in any test): "
                f"{plural(fixture_totals.calls, 'call')}, {cost_text(fixture_totals, places)}"
            )
        )
        parts.extend(_fixture_rows(usage.fixtures))
    outside_totals = SessionUsage(outside=usage.outside).totals
    if usage.outside:
        verdict = "failing the test" if strict else "use --aiusage-strict to fail the test"
        parts.append(
            lambda places: (
                f"outside any usage context: {plural(outside_totals.calls, 'call')}, "
                f"{cost_text(outside_totals, places)} ({verdict})"
            )
        )
        parts.extend(
            (o.totals, f"during {o.nodeid}" if o.nodeid else "between tests") for o in usage.outside
        )
    unpropagated = [t for t in usage.tests if t.unpropagated]
    if unpropagated:
        verdict = "failing the test" if strict else "use --aiusage-strict to fail the test"
        parts.append(
            f"reached tests without context propagation (counted in them; {verdict}; "
            f"{PROPAGATION_HINT}):"
        )
        parts.extend(f"  {t.label}: {unpropagated_text(t.unpropagated)}" for t in unpropagated)
    rows = [p for p in parts if isinstance(p, tuple)]
    # Every amount of the section with the same decimals (totals are sums of the rows, so
    # the rows' decimals write them exactly).
    details = [p for p in parts if isinstance(p, NodeUsage)]
    places = decimals(
        [
            totals.cost_usd,
            *(t.cost_usd for t, _ in rows),
            *(s.totals.cost_usd for d in details for s in d.spend),
        ]
    )
    table = iter(table_lines(rows, places))
    lines = [
        f"total: {plural(totals.calls, 'call')}, {count(totals.input_tokens)} input + "
        f"{count(totals.output_tokens)} output = {count(totals.total_tokens)} tokens, "
        f"{cost_text(totals, places)} ({len(used)} of {plural(len(usage.tests), 'test')} made "
        f"AI calls)"
    ]
    for part in parts:
        if isinstance(part, tuple):
            lines.append(next(table))
        elif isinstance(part, NodeUsage):
            lines.extend(spend_lines(part.spend, indent="      ", places=places))
        elif isinstance(part, str):
            lines.append(part)
        else:
            lines.append(part(places))
    lines.extend(f"warning: {w}" for w in warnings)
    if stop_message is not None:
        lines.append(stop_message)
    if json_error is not None:
        lines.append(f"error: {json_error}")
    elif json_path is not None:
        lines.append(f"JSON report: {json_path}")
    lines.extend(written)
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
