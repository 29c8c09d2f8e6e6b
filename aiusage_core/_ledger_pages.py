"""``aiusage report --format html`` and ``--format markdown``: the grouped table and the spend
over time, rendered from :class:`~aiusage_core._ledger.LedgerReport` values only.

The query is the ledger's business (SQLite, PostgreSQL, ...); these functions take its
answers, so every ledger gives the same page for the same records.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from ._ledger import LedgerReport
from ._money import cost_column, cost_of, cost_text, decimals
from ._records import UsageTotals
from ._render import escape, fractions, html_page, html_table, markdown_table, svg_chart

__all__ = ["SpendOverTime", "key_cell", "render_ledger_html", "render_ledger_markdown"]


def key_cell(value: Any) -> str:
    """A ledger group's key value as a report writes it (``(none)``, ``true``/``false``)."""
    if value is None:
        return "(none)"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class SpendOverTime:
    """Calls, tokens and cost per period (``day`` or ``month``) and per series (e.g. per
    model), from a report grouped by ``(period, series key)``."""

    def __init__(self, report: LedgerReport, period: str, series_key: str) -> None:
        self.period = period
        self.series_key = series_key
        cells: dict[tuple[str, str], UsageTotals] = {}
        for group in report.groups:
            key = (key_cell(group.key[0]), key_cell(group.key[1]))
            cells[key] = cells[key] + group.totals if key in cells else group.totals
        self.periods: list[str] = sorted({p for p, _ in cells})
        self.names: list[str] = list(dict.fromkeys(name for _, name in cells))
        self._cells = cells
        self.totals: dict[str, UsageTotals] = {}
        for (when, _), totals in cells.items():
            before = self.totals.get(when)
            self.totals[when] = before + totals if before is not None else totals

    def cell(self, period: str, name: str) -> UsageTotals:
        """The totals of ``name`` in ``period`` (empty when it made no call then)."""
        return self._cells.get((period, name), UsageTotals())

    def series(self) -> dict[str, list[Decimal]]:
        """The known cost of each series, period by period (the chart's bar heights)."""
        return {n: [self.cell(p, n).cost_usd for p in self.periods] for n in self.names}

    def _places(self) -> int:
        return decimals([t.cost_usd for t in (*self._cells.values(), *self.totals.values())])

    def labels(self) -> dict[str, str]:
        """Each period's total cost, written with the one money formatter (the same decimals
        as :meth:`rows`; ``+ unknown`` when some of its calls had no price)."""
        texts = cost_column([self.totals[p] for p in self.periods], self._places())
        return {p: t.strip() for p, t in zip(self.periods, texts, strict=True)}

    def headers(self) -> list[str]:
        """``[period, each series, "total"]``."""
        return [self.period, *self.names, "total"]

    def rows(self) -> list[list[str]]:
        """One row per period: the cost of each series and the period's total, every amount
        with the same decimals."""
        places = self._places()
        rows = []
        for p in self.periods:
            every = [*(self.cell(p, n) for n in self.names), self.totals[p]]
            rows.append([p, *(cost_text(t, places) for t in every)])
        return rows


def _table_rows(report: LedgerReport) -> tuple[list[str], list[list[str]], list[Decimal | None]]:
    every = [*(g.totals for g in report.groups), report.totals]
    costs = [c.strip() for c in cost_column(every)]
    headers = [*report.by, "calls", "input_tokens", "output_tokens", "cost_usd"]
    rows = []
    for group, cost in zip(report.groups, costs[:-1], strict=True):
        t = group.totals
        rows.append(
            [
                *(key_cell(v) for v in group.key),
                f"{t.calls:,}",
                f"{t.input_tokens:,}",
                f"{t.output_tokens:,}",
                cost,
            ]
        )
    t = report.totals
    total_key = ["TOTAL", *([""] * (len(report.by) - 1))] if report.by else []
    rows.append([*total_key, f"{t.calls:,}", f"{t.input_tokens:,}", f"{t.output_tokens:,}"])
    rows[-1].append(costs[-1])
    return headers, rows, [cost_of(x) for x in every]


def _period_words(over_time: SpendOverTime) -> str:
    return f"Spend by {over_time.period}, per {over_time.series_key}"


def render_ledger_markdown(
    report: LedgerReport, over_time: SpendOverTime, *, title: str = "AI usage"
) -> str:
    """The report as Markdown: totals, spend per period, and the grouped table."""
    headers, rows, _ = _table_rows(report)
    numeric = range(len(report.by), len(headers))
    parts = [
        f"## {title}\n\n",
        f"Total: {cost_text(report.totals)}, {report.totals.calls:,} calls, "
        f"{report.totals.total_tokens:,} tokens.\n",
    ]
    if over_time.periods:
        parts.append(f"\n### {_period_words(over_time)}\n\n")
        columns = over_time.headers()
        parts.append(
            markdown_table(columns, over_time.rows(), numeric=tuple(range(1, len(columns))))
        )
    parts.append(f"\n### By {', '.join(report.by) or 'total'}\n\n")
    parts.append(markdown_table(headers, rows, numeric=tuple(numeric)))
    if report.totals.unpriced_calls:
        parts.append(
            f"\n{report.totals.unpriced_calls:,} call(s) could not be priced; the cost is a "
            "lower bound.\n"
        )
    return "".join(parts)


def render_ledger_html(
    report: LedgerReport,
    over_time: SpendOverTime,
    *,
    title: str = "AI usage",
    subtitle: Sequence[str] = (),
) -> str:
    """The report as one self-contained HTML page: totals, a chart of the spend per period
    (inline SVG) with its figures as a table, and the grouped table with cost bars."""
    headers, rows, amounts = _table_rows(report)
    numeric = tuple(range(len(report.by), len(headers) - 1))
    totals = report.totals
    body = [
        f"<h1>{escape(title)}</h1>",
        *(f"<p>{escape(line)}</p>" for line in subtitle),
        '<dl class="totals" id="totals">'
        f'<div><dt>Cost</dt><dd data-field="cost_usd">{escape(cost_text(totals))}</dd></div>'
        f'<div><dt>Calls</dt><dd data-field="calls">{totals.calls:,}</dd></div>'
        f'<div><dt>Input tokens</dt><dd data-field="input_tokens">{totals.input_tokens:,}</dd>'
        f'</div><div><dt>Output tokens</dt><dd data-field="output_tokens">'
        f"{totals.output_tokens:,}</dd></div></dl>",
    ]
    if over_time.periods:
        words = _period_words(over_time)
        columns = over_time.headers()
        body.append(f"<h2>{escape(words)}</h2>")
        body.append(svg_chart(words, over_time.periods, over_time.series(), over_time.labels()))
        body.append(
            html_table(
                f"{words}: figures",
                columns,
                over_time.rows(),
                numeric=tuple(range(1, len(columns))),
            )
        )
    fracs = [*fractions(amounts[:-1]), 1.0 if amounts[-1] else 0.0]
    body.append(
        html_table(
            f"Calls, tokens and cost by {', '.join(report.by) or 'total'}",
            headers,
            rows,
            numeric=numeric,
            bars={len(headers) - 1: fracs},
            table_id="groups",
        )
    )
    if totals.unpriced_calls:
        body.append(
            f"<p>{totals.unpriced_calls:,} call(s) could not be priced; the cost is a lower "
            "bound.</p>"
        )
    return html_page(title, "".join(body))
