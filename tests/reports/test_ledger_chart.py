"""The spend-over-time chart of ``aiusage report --format html``: drawn at its own size, with
period labels that never overlap."""

from __future__ import annotations

import re
from decimal import Decimal

from aiusage_core._render import svg_chart


def _chart(days: int) -> str:
    periods = [
        f"2026-11-{d:02d}" if d <= 30 else f"2026-12-{d - 30:02d}" for d in range(1, days + 1)
    ]
    series = {"gpt-4o": [Decimal(d) / 1000 for d in range(1, days + 1)]}
    labels = {p: f"${Decimal(i + 1) / 1000:.3f}" for i, p in enumerate(periods)}
    return svg_chart("Spend by day, per model", periods, series, labels)


def test_one_period_is_one_narrow_bar_not_a_page_wide_block() -> None:
    svg = _chart(1)
    bars = re.findall(r'<rect x="[\d.]+" y="[\d.]+" width="([\d.]+)" height="[\d.]+" fill', svg)
    assert [float(w) for w in bars] == [67.2, 12.0]  # the bar, then the legend's swatch
    # Drawn at its own size (it only shrinks to fit the page, never stretches).
    assert 'width="740" height="280" style="max-width:100%;height:auto"' in svg


def test_many_periods_label_every_kth_so_labels_do_not_overlap() -> None:
    svg = _chart(60)
    day_labels = re.findall(r">(2026-1\d-\d\d)</text>", svg)
    # 60 bars of 12 units: a label every 7th period, 84 units apart.
    assert day_labels == [f"2026-11-{d:02d}" for d in (1, 8, 15, 22, 29)] + [
        f"2026-12-{d:02d}" for d in (6, 13, 20, 27)
    ]
    assert svg.count("<rect") == 60 + 1
    # The description still reads every period's total.
    description = re.search(r"<desc[^>]*>(.*?)</desc>", svg)
    assert description is not None
    assert description[1].count(";") == 59


def test_a_partly_unknown_total_is_labelled_with_its_unknown_part() -> None:
    svg = svg_chart(
        "Spend by day, per model",
        ["2026-11-01", "2026-11-02"],
        {"gpt-4o": [Decimal("0.004"), Decimal("0.011")]},
        {"2026-11-01": "$0.004", "2026-11-02": "$0.011 + unknown (1 call)"},
    )
    texts = re.findall(r"<text [^>]*>([^<]*)</text>", svg)
    assert texts == ["$0.004", "2026-11-01", "$0.011", "+ unknown", "2026-11-02", "gpt-4o"]
    assert "2026-11-02: $0.011 + unknown (1 call)" in svg  # the description has it all
