"""The Markdown summary for CI job pages (``$GITHUB_STEP_SUMMARY``, ``--aiusage-summary``):
totals, cost by model, budget failures, the most expensive tests and baseline regressions,
as GitHub-flavoured Markdown tables."""

from __future__ import annotations

from collections.abc import Sequence

from aiusage_core._money import cost_column, cost_text, decimals
from aiusage_core._render import markdown_table

from ._baseline import METRICS, Comparison, Regression, metric_value, percent_change
from ._format import count
from ._html import budget_text, table_places
from ._results import SessionUsage

__all__ = ["render_markdown"]


def _regression_rows(regressions: Sequence[Regression]) -> list[list[str]]:
    rows = []
    for r in regressions:
        metric = r.threshold.metric
        if metric == "usd":
            before, after = (
                cost_text(t, decimals([r.before.cost_usd, r.after.cost_usd]))
                for t in (r.before, r.after)
            )
        else:
            before, after = (
                count(int(metric_value(r.before, metric))),
                count(int(metric_value(r.after, metric))),
            )
        change = percent_change(metric_value(r.before, metric), metric_value(r.after, metric))
        rows.append([r.nodeid, f"{METRICS[metric][0]} > {r.threshold}", before, after, change])
    return rows


def render_markdown(
    usage: SessionUsage, *, top: int = 5, comparison: Comparison | None = None
) -> str:
    """The summary as Markdown."""
    totals = usage.totals
    tests = list(usage.tests)
    used = [t for t in tests if t.calls]
    parts = [
        "## AI usage\n\n",
        markdown_table(
            ["Cost", "Calls", "Input tokens", "Output tokens", "Tests with AI calls"],
            [
                [
                    cost_text(totals),
                    count(totals.calls),
                    count(totals.input_tokens),
                    count(totals.output_tokens),
                    f"{len(used)} of {len(tests)}",
                ]
            ],
            numeric=(1, 2, 3),
        ),
    ]
    over = [t for t in tests if t.over_budget]
    if over:
        parts.append(f"\n### Over budget ({len(over)})\n\n")
        parts.append(
            markdown_table(
                ["Test", "Spent of limit"],
                [[t.label, budget_text(t, table_places(over))] for t in over],
            )
        )
    models = usage.by_model()
    if models:
        costs = [c.strip() for c in cost_column(list(models.values()))]
        parts.append("\n### Cost by model\n\n")
        parts.append(
            markdown_table(
                ["Model", "Calls", "Input tokens", "Output tokens", "Cost"],
                [
                    [m, count(t.calls), count(t.input_tokens), count(t.output_tokens), c]
                    for (m, t), c in zip(models.items(), costs, strict=True)
                ],
                numeric=(1, 2, 3, 4),
            )
        )
    shown = usage.most_expensive(top) if top else []
    if shown:
        costs = [c.strip() for c in cost_column([t.totals for t in shown])]
        parts.append(f"\n### Most expensive tests (top {len(shown)})\n\n")
        parts.append(
            markdown_table(
                ["Test", "Calls", "Input tokens", "Output tokens", "Cost"],
                [
                    [
                        t.label,
                        count(t.calls),
                        count(t.input_tokens),
                        count(t.output_tokens),
                        c,
                    ]
                    for t, c in zip(shown, costs, strict=True)
                ],
                numeric=(1, 2, 3, 4),
            )
        )
    if comparison is not None and comparison.regressions:
        parts.append(f"\n### Baseline regressions ({len(comparison.regressions)})\n\n")
        parts.append(
            markdown_table(
                ["Test", "Threshold", "Baseline", "Now", "Change"],
                _regression_rows(comparison.regressions),
                numeric=(2, 3, 4),
            )
        )
    return "".join(parts)
