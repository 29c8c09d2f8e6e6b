"""Every figure any output prints for a run equals the JSON report's: the terminal summary,
the JSON report, the HTML report, the Markdown summary and ``aiusage report`` over the
ledger the run wrote."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any

import pytest
from report_parsing import HtmlReport, amount, markdown_tables
from reports_testing import read_report
from suite_testing import SUITE

from aiusage_core._cli import main


def _cost(entry: dict[str, Any]) -> Decimal | None:
    """The JSON report's cost of an entry: unknown when none of its calls was priced."""
    if entry["calls"] and entry["unpriced_calls"] == entry["calls"]:
        return None
    return Decimal(entry["cost_usd"])


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    capsys.readouterr()  # drop what was printed before (the inner run's output)
    assert main(["report", *argv]) == 0
    return capsys.readouterr().out


def test_every_output_shows_the_json_reports_figures(
    pytester: pytest.Pytester,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ledger = pytester.path / "usage.db"
    pytester.makepyfile(test_receipts=SUITE)
    # A new process, so the ledger named by the environment is the run's sink.
    monkeypatch.setenv("AIUSAGE_LEDGER", str(ledger))
    result = pytester.runpytest_subprocess(
        "--aiusage-json=ai.json",
        "--aiusage-html=ai.html",
        "--aiusage-summary=ai.md",
        "--aiusage-unpriced=ignore",
        "--aiusage-top=10",
    )
    monkeypatch.delenv("AIUSAGE_LEDGER")
    result.assert_outcomes(passed=3, failed=1)
    data = read_report(pytester.path / "ai.json")
    total = _cost(data["totals"])
    models = {m: _cost(t) for m, t in data["by_model"].items()}
    tests = {t["nodeid"]: _cost(t) for t in data["tests"] if t["calls"]}
    calls = data["totals"]["calls"]

    # Terminal: the total line, the rows by model and the most expensive tests.
    lines = result.stdout.lines
    start = lines.index(next(line for line in lines if "= AI usage =" in line))
    section = lines[start + 1 :]
    total_line = next(line for line in section if line.startswith("total: "))
    match = re.fullmatch(
        r"total: (\d+) calls, .* tokens, (.*) \(\d+ of \d+ tests made AI calls\)", total_line
    )
    assert match is not None
    assert (int(match[1]), amount(match[2])) == (calls, total)
    row = re.compile(r"  (.+?)\s+\d+ calls?\s+[\d,]+ in\s+[\d,]+ out  (\S+)")
    rows = {m[2]: amount(m[1].strip()) for m in map(row.fullmatch, section) if m}
    assert {k: v for k, v in rows.items() if k in models} == models
    assert {k: v for k, v in rows.items() if k in tests} == tests

    # HTML: the totals, the table by model and every test's row.
    page_text = (pytester.path / "ai.html").read_text(encoding="utf-8")
    page = HtmlReport(page_text)
    assert amount(page.fields["cost_usd"]) == total
    assert page.fields["calls"] == f"{calls:,}"
    _, model_rows = page.tables["Cost by model"]
    assert {r[0]: amount(r[4]) for r in model_rows} == models
    html_tests = {nodeid: amount(r["cost"]) for nodeid, r in page.test_rows().items()}
    assert {k: v for k, v in html_tests.items() if k in tests} == tests

    # Markdown: totals, by model, most expensive tests.
    tables = markdown_tables((pytester.path / "ai.md").read_text(encoding="utf-8"))
    assert amount(tables["AI usage"][0]["Cost"]) == total
    assert {r["Model"]: amount(r["Cost"]) for r in tables["Cost by model"]} == models
    expensive = next(v for k, v in tables.items() if k.startswith("Most expensive tests"))
    assert {r["Test"]: amount(r["Cost"]) for r in expensive} == tests

    # aiusage report over the ledger the run wrote: json, table, markdown and html.
    report = json.loads(_cli(capsys, "--ledger", str(ledger), "--format", "json"))
    assert report["totals"]["calls"] == calls
    assert Decimal(report["totals"]["cost_usd"]) == Decimal(data["totals"]["cost_usd"])
    assert {
        g["key"]: None if g["unpriced_calls"] == g["calls"] else Decimal(g["cost_usd"])
        for g in report["groups"]
    } == models
    table = _cli(capsys, "--ledger", str(ledger)).splitlines()
    total_row = next(line for line in table if line.startswith("TOTAL"))
    assert amount(total_row.split()[4]) == total
    by_model = markdown_tables(_cli(capsys, "--ledger", str(ledger), "--format", "markdown"))
    markdown_rows = {r["model"]: amount(r["cost_usd"]) for r in by_model["By model"]}
    assert markdown_rows.pop("TOTAL") == total
    assert markdown_rows == models
    html_page = HtmlReport(_cli(capsys, "--ledger", str(ledger), "--format", "html"))
    assert amount(html_page.fields["cost_usd"]) == total
    _, groups = html_page.tables["Calls, tokens and cost by model"]
    assert {r[0]: amount(r[-1]) for r in groups} == {**models, "TOTAL": total}
