"""Building blocks of the HTML and Markdown reports (the pytest plugin's and ``aiusage
report``'s): one self-contained page shell, tables, a spend-over-time chart in inline SVG, and
Markdown tables. They take figures already written by :mod:`._money`, so every output shows
the same text for the same amount; nothing here queries a ledger.

An HTML page never loads anything: styles and scripts are inline, there is no font, image or
CDN, so it opens from disk (or a CI artifact) offline.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from decimal import Decimal

__all__ = [
    "BAR_REM",
    "CSS",
    "RIGHT",
    "bar_cell",
    "escape",
    "fractions",
    "html_page",
    "html_table",
    "markdown_cell",
    "markdown_table",
    "svg_chart",
]

CSS = """
:root{--fg:#1b1f24;--muted:#57606a;--line:#d0d7de;--bar:#4c8bf5;--over:#b42318;--warn:#9a6700}
body{font:14px/1.45 system-ui,sans-serif;color:var(--fg);margin:1.5rem auto;max-width:96rem;
padding:0 1rem}
h1{font-size:1.4rem}h2{font-size:1.1rem;margin-top:2rem}
table{border-collapse:collapse;width:100%;margin:.5rem 0}
caption{text-align:left;font-weight:600;font-size:1.1rem;padding:1.25rem 0 .25rem}
#tests caption{font-weight:400;font-size:.9rem;color:var(--muted);padding-top:.5rem}
th,td{border-bottom:1px solid var(--line);padding:.25rem .5rem;text-align:left;
vertical-align:top}
tbody th{font-weight:500;overflow-wrap:anywhere}
#tests tbody th{font-weight:400;font-family:ui-monospace,monospace;font-size:.85rem}
.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.c{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.c span{display:inline-block;width:5.5rem;margin-right:.5rem;vertical-align:-.1em}
.c i{display:block;height:.9em;max-width:100%;background:var(--bar);opacity:.55;
border-radius:2px}
th.n,th.c{text-align:right}
#tests{table-layout:fixed}#tests thead th.n{white-space:normal}
#tests th:nth-child(2){width:4%}#tests th:nth-child(3),#tests th:nth-child(4){width:6%}
#tests th:nth-child(5){width:17%}#tests th:nth-child(6){width:18%}
#tests th:nth-child(7){width:6%}#tests th:nth-child(8){width:10%}
.over,.over td,.over th{color:var(--over)}.over th{border-left:4px solid var(--over)}
.flag{color:var(--warn);font-weight:600}
dl.totals{display:grid;grid-template-columns:repeat(auto-fill,minmax(7rem,1fr));
gap:.75rem 1rem;margin:1rem 0}
dl.totals div:first-child{grid-column:span 2}
dl.totals dt{color:var(--muted);font-size:.85rem}dl.totals dd{margin:0;font-size:1.2rem;
font-variant-numeric:tabular-nums}
th button{font:inherit;font-weight:600;background:none;border:0;padding:0;cursor:pointer;
color:inherit;text-align:inherit}
th[aria-sort=ascending] button::after{content:" \\25B2"/""}
th[aria-sort=descending] button::after{content:" \\25BC"/""}
th button:focus-visible,input:focus-visible{outline:2px solid var(--bar);outline-offset:2px}
.controls{display:flex;gap:1.5rem;align-items:center;flex-wrap:wrap}
svg text{font:11px system-ui,sans-serif;fill:var(--fg)}
"""
"""The style sheet every page shares."""


def escape(text: object) -> str:
    """``text`` safe in HTML content and attribute values."""
    return html.escape(str(text), quote=True)


def html_page(title: str, body: str, *, script: str = "") -> str:
    """One self-contained HTML document (no external resource of any kind)."""
    js = f"<script>{script}</script>" if script else ""
    return (
        "<!doctype html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        # Forbid every network fetch: the page needs none, and must make none.
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:\">"
        f"<title>{escape(title)}</title><style>{CSS}</style></head>\n"
        f"<body>{body}{js}</body></html>\n"
    )


RIGHT = ' class="n"'
"""The attribute of a right-aligned column header."""

BAR_REM = 5.5
"""The length of a full cost bar, in ``rem``: bars sit left of the amount, never under it."""


def bar_cell(text: str, fraction: float) -> str:
    """A right-aligned cost cell with a bar ``fraction`` (0 to 1) of the full length."""
    width = max(0.0, min(fraction, 1.0)) * BAR_REM
    return f'<td class="c"><span><i style="width:{width:.2f}rem"></i></span>{escape(text)}</td>'


def html_table(
    caption: str,
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    numeric: Sequence[int] = (),
    bars: Mapping[int, Sequence[float]] | None = None,
    table_id: str | None = None,
) -> str:
    """A table with a caption, column headers (``scope="col"``) and one row per entry;
    columns in ``numeric`` are right-aligned; a column in ``bars`` gets a bar per row (the
    fractions, in row order)."""
    ident = f' id="{escape(table_id)}"' if table_id else ""
    aligned = {*numeric, *(bars or {})}
    head = "".join(
        f'<th scope="col"{RIGHT if i in aligned else ""}>{escape(h)}</th>'
        for i, h in enumerate(headers)
    )
    body = []
    for r, row in enumerate(rows):
        cells = []
        for i, cell in enumerate(row):
            if bars is not None and i in bars:
                cells.append(bar_cell(cell, bars[i][r]))
            elif i == 0:
                cells.append(f'<th scope="row">{escape(cell)}</th>')
            else:
                cls = ' class="n"' if i in numeric else ""
                cells.append(f"<td{cls}>{escape(cell)}</td>")
        body.append(f"<tr>{''.join(cells)}</tr>")
    return (
        f"<table{ident}><caption>{escape(caption)}</caption><thead><tr>{head}</tr></thead>"
        f"<tbody>{''.join(body)}</tbody></table>"
    )


def fractions(amounts: Sequence[Decimal | None]) -> list[float]:
    """Each amount as a fraction of the largest (unknown amounts: 0)."""
    top = max((a for a in amounts if a is not None), default=Decimal(0))
    return [float(a / top) if a is not None and top > 0 else 0.0 for a in amounts]


_PALETTE = ("#4c8bf5", "#e8710a", "#1e8e3e", "#d93025", "#9334e6", "#12b5cb", "#f9ab00")


def svg_chart(
    title: str,
    periods: Sequence[str],
    series: Mapping[str, Sequence[Decimal]],
    labels: Mapping[str, str],
) -> str:
    """Spend over time as stacked bars in inline SVG: one bar per period, one colour per
    series; ``labels`` gives the written total of each period (e.g. ``$0.0123``), shown above
    its bar and in its tooltip. The chart has a title and a description for screen readers,
    and the same figures are in the table next to it."""
    height, left, bottom, top = 260, 10, 40, 32
    # A bar is at most 67 units wide (one period does not fill the page), at least 1; the
    # chart is drawn at its own size and only ever shrinks to fit the page.
    step = min(max(720 / max(len(periods), 1), 1.0), 96.0)
    width = max(int(step * len(periods) + 2 * left), 4 * 180 + 2 * left)
    plot_h = height - bottom - top
    totals = [sum((s[i] for s in series.values()), Decimal(0)) for i in range(len(periods))]
    peak = max(totals, default=Decimal(0)) or Decimal(1)
    bar_w = max(step * 0.7, 1.0)
    # Labels (the period and its total) on every period while they fit side by side, else
    # on every k-th one; the description and the table beside the chart have them all.
    every = math.ceil(84 / step)
    full = height + 20 * ((len(series) + 3) // 4)
    parts = [
        f'<svg role="img" aria-labelledby="chart-title chart-desc" viewBox="0 0 {width} '
        f'{full}" width="{width}" height="{full}" style="max-width:100%;height:auto" '
        f'xmlns="http://www.w3.org/2000/svg">',
        f'<title id="chart-title">{escape(title)}</title>',
        f'<desc id="chart-desc">{escape(_describe(periods, labels))}</desc>',
    ]
    for i, period in enumerate(periods):
        x = left + i * step + (step - bar_w) / 2
        y = float(top + plot_h)
        for n, (name, values) in enumerate(series.items()):
            value = values[i]
            if not value:
                continue
            h = float(value / peak) * plot_h
            y -= h
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{h:.1f}" '
                f'fill="{_PALETTE[n % len(_PALETTE)]}"><title>{escape(period)} '
                f"{escape(name)}</title></rect>"
            )
        if i % every:
            continue
        # "$0.0123 + unknown (1 call)" as "$0.0123" with "+ unknown" above it (the
        # table has the number of calls).
        amount, unknown, _ = labels.get(period, "").partition(" + unknown")
        for line, text in enumerate((amount, "+ unknown" if unknown else "")):
            if text:
                parts.append(
                    f'<text x="{x + bar_w / 2:.1f}" y="{max(y - 4 - 13 * line, 10):.1f}" '
                    f'text-anchor="middle">{escape(text)}</text>'
                )
        parts.append(
            f'<text x="{x + bar_w / 2:.1f}" y="{top + plot_h + 16}" '
            f'text-anchor="middle">{escape(period)}</text>'
        )
    for n, name in enumerate(series):
        lx, ly = left + (n % 4) * 180, height + 4 + 20 * (n // 4)
        parts.append(
            f'<rect x="{lx}" y="{ly - 10}" width="12" height="12" '
            f'fill="{_PALETTE[n % len(_PALETTE)]}"></rect>'
            f'<text x="{lx + 16}" y="{ly}">{escape(name)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _describe(periods: Sequence[str], labels: Mapping[str, str]) -> str:
    return "; ".join(f"{p}: {labels.get(p, '')}" for p in periods)


def markdown_cell(text: object) -> str:
    """``text`` safe in a Markdown table cell."""
    return str(text).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def markdown_table(
    headers: Sequence[str], rows: Sequence[Sequence[str]], *, numeric: Sequence[int] = ()
) -> str:
    """A GitHub-flavoured Markdown table; ``numeric`` columns are right-aligned."""
    rule = ["---:" if i in numeric else "---" for i in range(len(headers))]
    lines = [
        "| " + " | ".join(markdown_cell(h) for h in headers) + " |",
        "| " + " | ".join(rule) + " |",
    ]
    lines.extend("| " + " | ".join(markdown_cell(c) for c in row) + " |" for row in rows)
    return "\n".join(lines) + "\n"
