"""``--aiusage-html``: one self-contained page, checked in headless Chromium after its
scripts ran, and small for large suites."""

from __future__ import annotations

import random
import string
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from types import MappingProxyType

import pytest
from chromium_testing import CHROMIUM_ENV, chromium_page, require_chromium
from report_parsing import HtmlReport, amount
from reports_testing import read_report
from suite_testing import SUITE

from aiusage_core import UsageTotals
from pytest_aiusage import NodeUsage, SessionUsage
from pytest_aiusage._html import budget_text, render_html, table_places


@pytest.fixture
def chromium() -> str:
    """The Chromium binary; locally a missing one skips, under CI it fails."""
    return require_chromium()


def _run(pytester: pytest.Pytester) -> tuple[Path, dict[str, object]]:
    pytester.makepyfile(test_receipts=SUITE)
    result = pytester.runpytest(
        "--aiusage-html=report/ai.html",
        "--aiusage-json=report/ai.json",
        "--aiusage-unpriced=ignore",
    )
    result.assert_outcomes(passed=3, failed=1)
    result.stdout.fnmatch_lines([f"HTML report: {pytester.path / 'report' / 'ai.html'}"])
    return pytester.path / "report" / "ai.html", read_report(pytester.path / "report" / "ai.json")


ROWS = "[...document.querySelectorAll('#tests tbody tr')]"


def test_the_page_works_in_a_real_browser_offline(pytester: pytest.Pytester, chromium: str) -> None:
    page_path, data = _run(pytester)
    tests = {t["nodeid"]: t for t in data["tests"]}  # type: ignore[union-attr]
    with chromium_page() as page:
        page.open(page_path)
        assert page.evaluate("document.documentElement.dataset.ready") == "1"
        # The totals shown are the JSON report's.
        shown = page.evaluate(
            "Object.fromEntries([...document.querySelectorAll('#totals dd')]"
            ".map(d => [d.dataset.field, d.textContent]))"
        )
        totals = data["totals"]  # type: ignore[index]
        assert amount(shown["cost_usd"]) == Decimal(totals["cost_usd"])
        assert shown["cost_usd"] == "$0.0044045 + unknown (1 call)"
        assert shown["calls"] == f"{totals['calls']:,}"
        assert shown["input_tokens"] == f"{totals['input_tokens']:,}"
        assert shown["over_budget"] == "1"
        # Every test is a row; the over-budget one is marked.
        rows = page.evaluate(
            f"{ROWS}.map(r => [r.cells[0].textContent, r.className, r.cells[4].textContent,"
            " r.cells[5].textContent, r.cells[6].textContent])"
        )
        assert sorted(r[0] for r in rows) == sorted(tests)
        marked = {r[0]: r for r in rows}
        label = marked["test_receipts.py::test_label"]
        assert label[1] == "over"
        assert label[2] == "$0.0044000"  # every amount of the table with 7 decimals
        assert label[3] == "cost $0.0044000 of $0.0040000; calls 3 of 5 (over budget)"
        assert [r[0] for r in rows if r[1] == "over"] == ["test_receipts.py::test_label"]
        assert marked["test_receipts.py::test_private"][2:] == ["unknown", "", "1 unpriced call"]
        for nodeid, test in tests.items():
            if test["unpriced_calls"] != test["calls"]:
                assert amount(marked[nodeid][2]) == Decimal(test["cost_usd"])
        # Sorting by cost, by clicking the header's button: descending, then ascending.
        page.evaluate("document.querySelectorAll('#tests thead button')[4].click()")
        order = page.evaluate(f"{ROWS}.map(r => r.cells[0].textContent)")
        by_cost = sorted(
            (t for t in tests.values() if t["unpriced_calls"] < t["calls"] or not t["calls"]),
            key=lambda t: Decimal(t["cost_usd"]),
            reverse=True,
        )
        assert order[: len(by_cost)] == [t["nodeid"] for t in by_cost]
        assert order[-1] == "test_receipts.py::test_private"  # unknown sorts last
        assert (
            page.evaluate(
                "document.querySelectorAll('#tests thead th')[4].getAttribute('aria-sort')"
            )
            == "descending"
        )
        page.evaluate("document.querySelectorAll('#tests thead button')[4].click()")
        assert page.evaluate(f"{ROWS}.map(r => r.cells[0].textContent)")[0] in (
            "test_receipts.py::test_plain",
            "test_receipts.py::test_private",
        )
        # Filtering: "over budget only", then by text.
        page.evaluate("const box = document.getElementById('over-only'); box.click();")
        visible = page.evaluate(f"{ROWS}.filter(r => !r.hidden).map(r => r.cells[0].textContent)")
        assert visible == ["test_receipts.py::test_label"]
        assert page.evaluate("document.getElementById('status').textContent") == (
            "Showing 1 of 4 tests"
        )
        # Nothing was fetched but the file itself.
        assert page.requests() == [page_path.resolve().as_uri()]


def test_the_page_is_used_with_the_keyboard_alone(pytester: pytest.Pytester, chromium: str) -> None:
    page_path, _ = _run(pytester)
    focused = "document.activeElement.id || document.activeElement.textContent"
    with chromium_page() as page:
        page.open(page_path)
        # Tab goes through the filter, the checkbox, then every column header's button.
        stops = []
        for _ in range(9):
            page.press("Tab")
            stops.append(page.evaluate(focused))
        assert stops == [
            "filter",
            "over-only",
            "Test",
            "Calls",
            "Input tokens",
            "Output tokens",
            "Cost",
            "Budget",
            "Flags",
        ]
        # Back on "Cost" (Shift+Tab twice, here by focus): Enter sorts by it, most
        # expensive first; Space reverses.
        page.evaluate("document.querySelectorAll('#tests thead button')[4].focus()")
        assert page.evaluate(focused) == "Cost"
        page.press("Enter")
        cost_header = "document.querySelectorAll('#tests thead th')[4].getAttribute('aria-sort')"
        assert page.evaluate(cost_header) == "descending"
        first = f"{ROWS}[0].cells[0].textContent"
        assert page.evaluate(first) == "test_receipts.py::test_label"
        assert page.evaluate("document.getElementById('status').textContent") == (
            "Sorted by Cost, descending"
        )
        page.press(" ")
        assert page.evaluate(cost_header) == "ascending"
        # The checkbox toggles with Space; the status line (role="status") says what shows.
        page.evaluate("document.getElementById('over-only').focus()")
        page.press(" ")
        assert page.evaluate("document.getElementById('status').textContent") == (
            "Showing 1 of 4 tests"
        )


def test_the_page_is_self_contained_and_accessible_markup(pytester: pytest.Pytester) -> None:
    page_path, data = _run(pytester)
    text = page_path.read_text(encoding="utf-8")
    page = HtmlReport(text)
    assert page.urls == []
    assert page.scripts_with_src == 0
    assert "http://" not in text.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "https://" not in text
    assert amount(page.fields["cost_usd"]) == Decimal(data["totals"]["cost_usd"])  # type: ignore[index]
    headers, rows = page.tables["Cost by model"]
    assert headers == ["Model", "Calls", "Input tokens", "Output tokens", "Cost"]
    assert [(r[0], r[4]) for r in rows] == [
        ("gpt-4o", "$0.0035000"),
        ("gpt-4o-mini", "$0.0009045"),
        ("my-private-model", "unknown"),
    ]
    headers, rows = page.tables["Cost by operation (usage contexts below the test)"]
    assert [(r[0], r[4]) for r in rows] == [
        ("summarise", "$0.0035000"),
        ("label_receipt", "$0.0009000"),
        ("(test)", "$0.0000045 + unknown (1 call)"),
    ]
    # The test table: column headers are buttons inside <th scope="col">, with a caption.
    assert '<th scope="col" class="n"><button type="button">Cost</button></th>' in text
    assert '<th scope="col"><button type="button">Test</button></th>' in text
    assert "<caption>Every test, its AI usage and budget." in text
    assert '<input type="search" id="filter"' in text
    assert 'role="status" aria-live="polite"' in text


def _session(n: int) -> SessionUsage:
    """``n`` tests as a large suite has them: long parametrized node ids, 50 to a module,
    every test under a default budget (cost and calls), one over it, one unpriced call and
    one call without reported usage."""
    tests = []
    for i in range(n):
        cost = Decimal(i % 97) * Decimal("0.0000135")
        tests.append(
            NodeUsage(
                nodeid=(
                    f"tests/integration/receipts/test_module_{i // 50:03d}.py::"
                    f"test_labels_the_receipt_of_a_merchant[case-{i:05d}]"
                ),
                totals=UsageTotals(
                    calls=1 + i % 3,
                    input_tokens=900 + i,
                    output_tokens=150 + i % 40,
                    cost_usd=Decimal("0.0020") if i == 500 else cost,
                    unpriced_calls=1 if i == 9 else 0,
                ),
                by_model=MappingProxyType({}),
                unreported_calls=1 if i == 7 else 0,
                budget=MappingProxyType({"usd": Decimal("0.001"), "calls": 5}),
                over_budget=("usd",) if i == 500 else (),
            )
        )
    return SessionUsage(tests=tuple(tests))


def test_five_thousand_tests_make_a_page_of_a_few_hundred_kb() -> None:
    usage = _session(5_000)
    text = render_html(usage)
    size = len(text.encode("utf-8"))
    assert size < 300_000, f"{size:,} bytes"
    page = HtmlReport(text)
    data = page.data
    assert len(data["rows"]) == 5_000
    assert len(data["files"]) == 100  # each module path written once
    # Each name written as the characters it adds to the previous row's.
    assert data["rows"][1][:3] == [0, 47, "1]"]
    assert sorted(page.test_rows()) == sorted(t.nodeid for t in usage.tests)
    assert data["budgets"] == [[["usd", "$0.0010000"], ["calls", "5"]]]
    assert "1 call without reported usage" in text
    assert "1 unpriced call" in text
    # 5,000 differently named tests (40 random letters each: nothing shared but "test_").
    rng = random.Random(17)
    named = SessionUsage(
        tests=tuple(
            replace(
                t,
                nodeid=t.nodeid.partition("::")[0]
                + "::test_"
                + "".join(rng.choice(string.ascii_lowercase + "_") for _ in range(40)),
            )
            for t in usage.tests
        )
    )
    page = HtmlReport(render_html(named))
    assert len(page.text.encode("utf-8")) < 400_000
    assert sorted(page.test_rows()) == sorted(t.nodeid for t in named.tests)


def test_five_thousand_rows_render_in_the_browser(tmp_path: Path, chromium: str) -> None:
    usage = _session(5_000)
    path = tmp_path / "big.html"
    path.write_text(render_html(usage), encoding="utf-8")
    places = table_places(usage.tests)
    with chromium_page() as page:
        page.open(path)
        shown = page.evaluate(
            f"{ROWS}.map(r => [r.cells[0].textContent, r.cells[5].textContent,"
            " r.cells[6].textContent, r.className])"
        )
        assert len(shown) == 5_000
        # The page's rows are the tests, with the budgets Python writes (the script only
        # puts each row's own figures next to its limits).
        for test, (nodeid, budget, flags, marked) in zip(usage.tests, shown, strict=True):
            assert nodeid == test.nodeid
            over = " (over budget)" if test.over_budget else ""
            assert budget == budget_text(test, places) + over
            assert (marked == "over") == bool(test.over_budget)
            assert flags == {
                7: "1 call without reported usage",
                9: "1 unpriced call",
            }.get(int(nodeid[-6:-1]), "")
        assert shown[500][1] == "cost $0.0020000 of $0.0010000; calls 3 of 5 (over budget)"


@pytest.mark.parametrize("ci", ["true", "1", "yes"])
def test_a_missing_chromium_fails_under_ci(
    ci: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(CHROMIUM_ENV, str(tmp_path / "no-chromium"))
    monkeypatch.setenv("CI", ci)
    with pytest.raises(pytest.fail.Exception) as failed:
        require_chromium()
    assert str(failed.value) == (
        "CI must run the browser tests: headless Chromium is not installed "
        f"({tmp_path / 'no-chromium'}; Debian: apt-get install chromium)"
    )


@pytest.mark.parametrize("ci", [None, "", "false"])
def test_a_missing_chromium_skips_locally_with_one_reason(
    ci: str | None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(CHROMIUM_ENV, str(tmp_path / "no-chromium"))
    if ci is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", ci)
    with pytest.raises(pytest.skip.Exception) as skipped:
        require_chromium()
    assert str(skipped.value) == (
        f"headless Chromium is not installed ({tmp_path / 'no-chromium'}; "
        "Debian: apt-get install chromium)"
    )


def test_a_budget_with_an_unknown_cost_says_unknown_never_zero() -> None:
    def test(cost: str, calls: int, unpriced: int) -> NodeUsage:
        return NodeUsage(
            nodeid="test_x.py::test_x",
            totals=UsageTotals(calls=calls, cost_usd=Decimal(cost), unpriced_calls=unpriced),
            by_model=MappingProxyType({}),
            budget=MappingProxyType({"usd": Decimal("0.001"), "calls": 5}),
        )

    assert budget_text(test("0", 2, 2)) == "cost unknown of $0.001; calls 2 of 5"
    assert budget_text(test("0.0004", 2, 1)) == (
        "cost $0.0004 + unknown (1 call) of $0.0010; calls 2 of 5"
    )
    assert (
        budget_text(test("0.0004", 2, 0), places=6) == "cost $0.000400 of $0.001000; calls 2 of 5"
    )
