"""The Markdown summary for CI (``--aiusage-summary``, ``$GITHUB_STEP_SUMMARY``), the
baseline comparison in the HTML and Markdown reports, and pytest-html's AI cost column."""

from __future__ import annotations

import html
import json
import re
from decimal import Decimal

import pytest
from report_parsing import HtmlReport, amount, markdown_tables
from reports_testing import read_report
from suite_testing import SUITE


def test_summary_file_has_totals_failures_models_and_most_expensive_tests(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(test_receipts=SUITE)
    result = pytester.runpytest(
        "--aiusage-summary=ci/summary.md", "--aiusage-json=ai.json", "--aiusage-unpriced=ignore"
    )
    result.assert_outcomes(passed=3, failed=1)
    data = read_report(pytester.path / "ai.json")
    tables = markdown_tables((pytester.path / "ci" / "summary.md").read_text(encoding="utf-8"))
    (totals,) = tables["AI usage"]
    assert amount(totals["Cost"]) == Decimal(data["totals"]["cost_usd"])
    assert totals == {
        "Cost": "$0.0044045 + unknown (1 call)",
        "Calls": "5",
        "Input tokens": "3,017",
        "Output tokens": "1,108",
        "Tests with AI calls": "3 of 4",
    }
    assert tables["Over budget (1)"] == [
        {
            "Test": "test_receipts.py::test_label",
            "Spent of limit": "cost $0.0044 of $0.0040; calls 3 of 5",
        }
    ]
    assert [(r["Model"], r["Cost"]) for r in tables["Cost by model"]] == [
        ("gpt-4o", "$0.0035000"),
        ("gpt-4o-mini", "$0.0009045"),
        ("my-private-model", "unknown"),
    ]
    expensive = tables["Most expensive tests (top 3)"]
    by_id = {t["nodeid"]: t for t in data["tests"]}
    for row in expensive:
        test = by_id[row["Test"]]
        assert row["Calls"] == f"{test['calls']:,}"
        if test["unpriced_calls"] < test["calls"]:
            assert amount(row["Cost"]) == Decimal(test["cost_usd"])
    assert [r["Test"] for r in expensive][:2] == [
        "test_receipts.py::test_label",
        "test_receipts.py::test_cheap",
    ]


def test_github_step_summary_is_appended_to_not_replaced(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    summary = pytester.path / "step_summary.md"
    summary.write_text("## Lint\n\nall good\n", encoding="utf-8")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    pytester.makepyfile(test_receipts=SUITE)
    pytester.runpytest("--aiusage-unpriced=ignore").assert_outcomes(passed=3, failed=1)
    text = summary.read_text(encoding="utf-8")
    assert text.startswith("## Lint\n\nall good\n## AI usage\n")
    (totals,) = markdown_tables(text)["AI usage"]
    assert totals["Calls"] == "5"


BASE = """
from aiusage_core import record_usage

def test_summarise():
    record_usage(model="gpt-4o-mini", input_tokens=1000, output_tokens={out})

def test_steady():
    record_usage(model="gpt-4o-mini", input_tokens=10, output_tokens=5)
"""


def test_baseline_regressions_are_in_the_summary_and_deltas_in_the_html(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(test_base=BASE.format(out=500))
    pytester.runpytest("--aiusage-save=main").assert_outcomes(passed=2)
    # 1,000 x 0.15 + 525 x 0.60 per million = 0.000465: +0.000015, +3.3%
    pytester.makepyfile(test_base=BASE.format(out=525))
    result = pytester.runpytest(
        "--aiusage-compare=main",
        "--aiusage-compare-fail=usd:3%",
        "--aiusage-summary=summary.md",
        "--aiusage-html=report.html",
    )
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    tables = markdown_tables((pytester.path / "summary.md").read_text(encoding="utf-8"))
    assert tables["Baseline regressions (1)"] == [
        {
            "Test": "test_base.py::test_summarise",
            "Threshold": "cost > usd:3%",
            "Baseline": "$0.000450",
            "Now": "$0.000465",
            "Change": "+3.3%",
        }
    ]
    page = (pytester.path / "report.html").read_text(encoding="utf-8")
    report = HtmlReport(page)
    assert report.data["delta"] is True
    rows = report.test_rows()
    assert rows["test_base.py::test_summarise"]["delta"] == "+$0.000015 (+3.3%)"
    assert rows["test_base.py::test_summarise"]["regressed"] == 1
    assert "delta" not in rows["test_base.py::test_steady"]  # unchanged: no delta
    assert "Changes since the baseline &#x27;main&#x27;" in page


def test_pytest_html_report_gains_an_ai_cost_column(pytester: pytest.Pytester) -> None:
    pytest.importorskip("pytest_html")
    # The shared ini turns pytest-html off for speed; this run needs it.
    pytester.makeini("[pytest]\naddopts = -p no:cacheprovider\n")
    pytester.makepyfile(test_receipts=SUITE)
    result = pytester.runpytest("--html=out.html", "--aiusage-unpriced=ignore")
    result.assert_outcomes(passed=3, failed=1)
    page = (pytester.path / "out.html").read_text(encoding="utf-8")
    blob = re.search(r'data-jsonblob="([^"]*)"', page)
    assert blob is not None
    data = json.loads(html.unescape(blob.group(1)))
    head = re.search(r'<thead id="results-table-head">(.*?)</thead>', page, re.S)
    assert head is not None
    columns = [re.sub(r"<[^>]+>", "", th).strip() for th in re.findall(r"<th.*?</th>", head[1])]
    assert columns[:3] == ["Result", "Test", "AI cost"]
    costs = {}
    for nodeid, entries in data["tests"].items():
        for entry in entries:
            cells = entry["resultsTableRow"]
            cell = next(c for c in cells if 'class="col-aicost"' in c)
            costs[nodeid] = re.sub(r"<[^>]+>", "", cell)
    assert costs["test_receipts.py::test_label"] == "$0.0044"
    assert costs["test_receipts.py::test_private"] == "unknown"
    assert costs["test_receipts.py::test_plain"] == "$0.00"  # no call: nothing spent
