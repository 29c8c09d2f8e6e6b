"""The HTML report (``--aiusage-html``): one self-contained file that opens from disk.

Totals; cost by model and by operation; every test in a sortable, filterable table with its
cost as a bar, its budget (spent against each limit, over budget in red), flags for unpriced
calls and calls whose usage was not reported, and the change since a baseline when
``--aiusage-compare`` is used.

Every figure is written in Python by the one money formatter; the page's script only builds
the test table's rows from a compact JSON block (so 5,000 tests stay a few hundred kB), sorts
and filters them.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from aiusage_core import UsageTotals
from aiusage_core._money import cost_column, cost_of, cost_text, decimals, usd
from aiusage_core._render import BAR_REM, RIGHT, escape, fractions, html_page, html_table

from ._format import count, plural, unpropagated_text
from ._results import NodeUsage, SessionUsage
from ._spend import operation_label

__all__ = ["Delta", "budget_text", "delta_text", "render_html", "table_places"]

Delta = tuple[str, bool]
"""A test's change since the baseline, written (``+$0.000015 (+3.3%)``), and whether it is
a regression past a ``--aiusage-compare-fail`` threshold."""

_LIMIT_WORDS = {
    "usd": "cost",
    "tokens": "tokens",
    "input_tokens": "input",
    "output_tokens": "output",
    "calls": "calls",
}

# Builds the rows from the JSON block, then sorts (buttons in the column headers, with
# aria-sort) and filters (text and "over budget only"), saying how many rows show.
# A row: [file, shared, rest, calls, input tokens, output tokens, cost, budget, over budget,
# flags, change since baseline, regressed]. File and budget are indexes into the block's
# tables (budget 0: none); the test's name (after "::") is the previous row's first
# `shared` characters followed by `rest`, so 5,000 rows stay small. Every amount is written
# in Python; the script only puts the row's own figures next to its limits.
_SCRIPT = r"""
(function(){
var D=JSON.parse(document.getElementById('aiusage-data').textContent);
var table=document.getElementById('tests'),tb=table.tBodies[0],rows=[];
function num(t){var v=parseFloat(String(t).replace(/[$,]/g,''));return isNaN(v)?null:v}
function fmt(n){return Number(n).toLocaleString('en-US')}
// A node id may break after "/" and "::" and before "[" (<wbr>, no text added).
function ids(td,id){id.split(/(?<=\/|::)|(?=\[)/).forEach(function(p,k){
 if(k)td.appendChild(document.createElement('wbr'));td.appendChild(document.createTextNode(p))})}
function budget(r){if(!r[7])return'';
 var spent={usd:r[6],calls:fmt(r[3]),input_tokens:fmt(r[4]),output_tokens:fmt(r[5]),
  tokens:fmt(r[4]+r[5])};
 return D.budgets[r[7]-1].map(function(l){return D.words[l[0]]+' '+spent[l[0]]+' of '+l[1]})
  .join('; ')}
var top=0,name='';D.rows.forEach(function(r){var v=num(r[6]);if(v!==null&&v>top)top=v});
D.rows.forEach(function(r){
 name=name.slice(0,r[1])+(r[2]||'');
 var tr=document.createElement('tr'),id=D.files[r[0]]+(name?'::'+name:'');
 var cells=[id,r[3],r[4],r[5],r[6],budget(r),r[9]||''];if(D.delta)cells.push(r[10]||'');
 cells.forEach(function(c,i){
  var td=document.createElement(i?'td':'th');
  if(!i){td.scope='row';ids(td,c)}else td.textContent=c;
  if(i>0&&i<4){td.className='n';td.textContent=fmt(c)}
  if(i==4){td.className='c';var b=document.createElement('span'),bar=document.createElement('i'),
   v=num(c);bar.style.width=(top&&v?D.bar*v/top:0).toFixed(2)+'rem';b.appendChild(bar);
   td.insertBefore(b,td.firstChild)}
  if(i==5)td.className='b';if(i==6)td.className=c?'f flag':'f';
  if(i==7){td.className='n';if(r[11])td.className+=' flag'}
  tr.appendChild(td)});
 if(r[8]){tr.className='over';tr.cells[5].textContent+=' (over budget)'}
 tr.dataset.text=id.toLowerCase();rows.push(tr);tb.appendChild(tr)});
var status=document.getElementById('status'),filter=document.getElementById('filter'),
 overOnly=document.getElementById('over-only');
function apply(){var q=filter.value.toLowerCase(),n=0;
 rows.forEach(function(tr){var show=tr.dataset.text.indexOf(q)>=0&&
  (!overOnly.checked||tr.className=='over');tr.hidden=!show;if(show)n++});
 status.textContent='Showing '+n+' of '+rows.length+' tests'}
filter.addEventListener('input',apply);overOnly.addEventListener('change',apply);
var ths=table.tHead.rows[0].cells;
Array.prototype.forEach.call(ths,function(th,col){
 th.querySelector('button').addEventListener('click',function(){
  var desc=th.getAttribute('aria-sort')!=='descending';
  Array.prototype.forEach.call(ths,function(h){h.removeAttribute('aria-sort')});
  th.setAttribute('aria-sort',desc?'descending':'ascending');
  function key(tr){var t=tr.cells[col].textContent;
   if(col==5)return tr.className=='over'?1:0;
   if(col==0||col==6)return t;var v=num(t.replace(/ \(.*/,''));return v===null?-Infinity:v}
  rows.sort(function(a,b){var x=key(a),y=key(b),c=x<y?-1:x>y?1:0;return desc?-c:c});
  rows.forEach(function(tr){tb.appendChild(tr)});
  status.textContent='Sorted by '+th.textContent+(desc?', descending':', ascending')})});
apply();document.documentElement.dataset.ready='1';
})();
"""


def table_places(tests: Sequence[NodeUsage]) -> int:
    """The decimals of every amount in a table of ``tests``: their costs and cost limits."""
    return decimals(
        [
            *(t.totals.cost_usd for t in tests),
            *(Decimal(t.budget["usd"]) for t in tests if "usd" in t.budget),
        ]
    )


def _usd_places(test: NodeUsage, places: int | None) -> int:
    if places is not None:
        return places
    return decimals([test.totals.cost_usd, Decimal(test.budget["usd"])])


def _limits(test: NodeUsage, places: int | None) -> list[tuple[str, str]]:
    """``[(limit name, the limit written), ...]`` (amounts with ``places`` decimals, by
    default the fewest that write the cost and the limit exactly)."""
    limits = []
    for name, limit in test.budget.items():
        if name == "usd":
            written = usd(Decimal(limit), _usd_places(test, places))
        else:
            written = count(int(limit))
        limits.append((name, written))
    return limits


def budget_text(test: NodeUsage, places: int | None = None) -> str:
    """``cost $0.00133 of $0.00050; calls 6 of 4``: spent against each limit (amounts with
    ``places`` decimals, by default the fewest that write both exactly; a cost not known is
    ``unknown``, never $0)."""
    parts = []
    for name, most in _limits(test, places):
        if name == "usd":
            spent = cost_text(test.totals, _usd_places(test, places))
        else:
            totals = test.totals
            spent = count(totals.total_tokens if name == "tokens" else getattr(totals, name))
        parts.append(f"{_LIMIT_WORDS[name]} {spent} of {most}")
    return "; ".join(parts)


def _flags(test: NodeUsage) -> str:
    flags = []
    if test.totals.unpriced_calls:
        flags.append(plural(test.totals.unpriced_calls, "unpriced call"))
    if test.unreported_calls:
        flags.append(f"{plural(test.unreported_calls, 'call')} without reported usage")
    if test.unpropagated:
        flags.append(unpropagated_text(test.unpropagated))
    return ", ".join(flags)


def _index(table: dict[Any, int], key: Any) -> int:
    return table.setdefault(key, len(table))


def _shared(a: str, b: str) -> int:
    """How many leading characters ``a`` and ``b`` share."""
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def _rows(
    tests: Sequence[NodeUsage], deltas: dict[str, Delta] | None
) -> tuple[dict[str, Any], list[list[Any]]]:
    files: dict[str, int] = {}
    budgets: dict[tuple[tuple[str, str], ...], int] = {}
    previous = ""
    places = table_places(tests)
    costs = cost_column([t.totals for t in tests], places)
    rows: list[list[Any]] = []
    for test, cost in zip(tests, costs, strict=True):
        path, _, name = test.nodeid.partition("::")
        if test.rerun:
            name += f" (rerun {test.rerun})"
        shared = _shared(previous, name)
        previous = name
        limits = tuple(_limits(test, places))
        delta = (deltas or {}).get(test.nodeid)
        row: list[Any] = [
            _index(files, path),
            shared,
            name[shared:],
            test.totals.calls,
            test.totals.input_tokens,
            test.totals.output_tokens,
            cost.strip(),
            _index(budgets, limits) + 1 if limits else 0,
            1 if test.over_budget else 0,
            _flags(test),
            delta[0] if delta else "",
            1 if delta and delta[1] else 0,
        ]
        while row and not row[-1]:  # trailing empty cells cost bytes, 5,000 times over
            row.pop()
        rows.append(row)
    data = {
        "files": list(files),
        "budgets": [list(b) for b in budgets],
        "words": _LIMIT_WORDS,
    }
    return data, rows


def _grouped(caption: str, first: str, groups: dict[str, UsageTotals]) -> str:
    totals = list(groups.values())
    costs = [c.strip() for c in cost_column(totals)]
    rows = [
        [name, count(t.calls), count(t.input_tokens), count(t.output_tokens), cost]
        for (name, t), cost in zip(groups.items(), costs, strict=True)
    ]
    return html_table(
        caption,
        [first, "Calls", "Input tokens", "Output tokens", "Cost"],
        rows,
        numeric=(1, 2, 3),
        bars={4: fractions([cost_of(t) for t in totals])},
    )


def render_html(
    usage: SessionUsage,
    *,
    title: str = "AI usage report",
    deltas: dict[str, Delta] | None = None,
    baseline_note: str | None = None,
) -> str:
    """The report as one HTML document; ``deltas`` (by node id) adds a column of changes
    since the baseline that ``baseline_note`` describes."""
    totals = usage.totals
    tests = list(usage.tests)
    over = [t for t in tests if t.over_budget]
    unreported = sum(n.unreported_calls for n in (*usage.tests, *usage.fixtures, *usage.outside))
    places = decimals([totals.cost_usd])
    figures = [
        ("cost_usd", "Cost", cost_text(totals, places)),
        ("calls", "Calls", count(totals.calls)),
        ("input_tokens", "Input tokens", count(totals.input_tokens)),
        ("output_tokens", "Output tokens", count(totals.output_tokens)),
        ("tests", "Tests with AI calls", f"{sum(1 for t in tests if t.calls)} of {len(tests)}"),
        ("over_budget", "Over budget", str(len(over))),
        ("unpriced_calls", "Unpriced calls", count(totals.unpriced_calls)),
        ("unreported_calls", "Calls without reported usage", count(unreported)),
    ]
    dl = "".join(
        f'<div><dt>{escape(label)}</dt><dd data-field="{key}">{escape(value)}</dd></div>'
        for key, label, value in figures
    )
    body = [f"<h1>{escape(title)}</h1>", f'<dl class="totals" id="totals">{dl}</dl>']
    if usage.fixtures or usage.outside:
        extra = SessionUsage(fixtures=usage.fixtures, outside=usage.outside).totals
        body.append(
            f"<p>Of the total, {escape(cost_text(extra))} ({plural(extra.calls, 'call')}) "
            "was spent by wider-scoped fixtures or outside any usage context, not by a test.</p>"
        )
    if over:
        spent = table_places(tests)
        items = "".join(
            f"<li>{escape(t.label)}: {escape(budget_text(t, spent))}</li>" for t in over
        )
        body.append(f'<h2 id="failures">Over budget</h2><ul class="over">{items}</ul>')
    models = usage.by_model()
    if models:
        body.append(_grouped("Cost by model", "Model", models))
    operations = usage.by_operation()
    if operations:
        labelled = {operation_label(op): t for op, t in operations.items()}
        body.append(
            _grouped("Cost by operation (usage contexts below the test)", "Operation", labelled)
        )
    tables, rows = _rows(tests, deltas)
    headers = ["Test", "Calls", "Input tokens", "Output tokens", "Cost", "Budget", "Flags"]
    if deltas is not None:
        headers.append("Change since baseline")
    # Calls, tokens, cost and the change since the baseline are right-aligned numbers.
    head = "".join(
        f'<th scope="col"{RIGHT if h not in ("Test", "Budget", "Flags") else ""}>'
        f'<button type="button">{escape(h)}</button></th>'
        for h in headers
    )
    body.append('<h2 id="tests-heading">Tests</h2>')
    if baseline_note:
        body.append(f"<p>{escape(baseline_note)}</p>")
    body.append(
        '<div class="controls"><label>Filter tests <input type="search" id="filter" '
        'autocomplete="off"></label><label><input type="checkbox" id="over-only"> '
        'Over budget only</label><p id="status" role="status" aria-live="polite"></p></div>'
        "<noscript><p>The test table is built by the page's script; the JSON report "
        "(--aiusage-json) has the same figures.</p></noscript>"
        f'<table id="tests"><caption>Every test, its AI usage and budget. Select a column '
        f"header to sort.</caption><thead><tr>{head}</tr></thead><tbody></tbody></table>"
    )
    data = {**tables, "rows": rows, "delta": deltas is not None, "bar": BAR_REM}
    # "</" inside the JSON must not close the script element.
    blob = json.dumps(data, separators=(",", ":"), ensure_ascii=False).replace("</", "<\\/")
    body.append(f'<script type="application/json" id="aiusage-data">{blob}</script>')
    return html_page(title, "".join(body), script=_SCRIPT)


def delta_text(before: UsageTotals, after: UsageTotals, percent: str) -> str:
    """``+$0.000015 (+3.3%)`` (the cost change and its percentage)."""
    places = decimals([before.cost_usd, after.cost_usd])
    return f"{usd(after.cost_usd - before.cost_usd, places, sign=True)} ({percent})"
