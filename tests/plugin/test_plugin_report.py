"""The end-of-run report: terminal summary, ``--aiusage-json``, JUnit XML properties, hooks."""

from __future__ import annotations

import copy
import xml.etree.ElementTree as ET
from collections.abc import Callable
from decimal import Decimal

import jsonschema
import pytest
from reports_testing import read_report

from pytest_aiusage import report_schema
from pytest_aiusage._results import JSON_VERSION

HEADER = "import pytest\nfrom aiusage_core import record_usage\n"

SUITE = (
    HEADER
    + """
def test_small():
    record_usage(model="gpt-4o-mini", input_tokens=1000, output_tokens=500)

def test_big():
    record_usage(model="gpt-4o", input_tokens=1000, output_tokens=100)
    record_usage(model="gpt-4o-mini", input_tokens=2000, cached_input_tokens=500,
                 output_tokens=100)

def test_tiny():
    record_usage(model="gpt-4o-mini", input_tokens=10, output_tokens=5)

def test_no_ai():
    pass
"""
)
# test_small: 0.00015 + 0.0003 = 0.00045
# test_big: gpt-4o 0.0025 + 0.001 = 0.0035; gpt-4o-mini 1,500 x 0.15 + 500 x 0.075
#   + 100 x 0.60 per million = 0.000225 + 0.0000375 + 0.00006 = 0.0003225; together 0.0038225
# test_tiny: 10 x 0.15 + 5 x 0.60 per million = 0.0000045
# session: 0.0042770


def test_summary_shows_totals_models_and_the_most_expensive_tests(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(test_suite=SUITE)
    result = pytester.runpytest()
    result.assert_outcomes(passed=4)
    result.stdout.fnmatch_lines(
        [
            "*= AI usage =*",
            "total: 4 calls, 4,010 input + 705 output = 4,715 tokens, $0.0042770 "
            "(3 of 4 tests made AI calls)",
            "by model:",
            "  $0.0035000      1 call       1,000 in         100 out  gpt-4o",
            "  $0.0007770     3 calls       3,010 in         605 out  gpt-4o-mini",
            "most expensive tests (top 3):",
            "  $0.0038225     2 calls       3,000 in         200 out  test_suite.py::test_big",
            "  $0.0004500      1 call       1,000 in         500 out  test_suite.py::test_small",
            "  $0.0000045      1 call          10 in           5 out  test_suite.py::test_tiny",
            "*= 4 passed in *",
        ]
    )


def test_top_option_and_ini_key_limit_the_list_of_tests(
    pytester: pytest.Pytester, write_ini: Callable[[str], None]
) -> None:
    pytester.makepyfile(test_suite=SUITE)
    result = pytester.runpytest("--aiusage-top=1")
    result.stdout.fnmatch_lines(
        ["most expensive tests (top 1):", "*test_suite.py::test_big", "*= 4 passed in *"]
    )
    result.stdout.no_fnmatch_line("*test_suite.py::test_small")

    write_ini("aiusage_top = 0")
    result = pytester.runpytest()
    result.stdout.fnmatch_lines(["total: 4 calls*"])
    result.stdout.no_fnmatch_line("most expensive tests*")
    # The command line wins over the ini file.
    result = pytester.runpytest("--aiusage-top=2")
    result.stdout.fnmatch_lines(["most expensive tests (top 2):"])


def test_a_run_without_ai_calls_prints_no_ai_usage_section(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_plain="def test_plain():\n    pass\n")
    result = pytester.runpytest()
    result.assert_outcomes(passed=1)
    result.stdout.no_fnmatch_line("*AI usage*")


def test_json_report_holds_exact_figures_per_test(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_suite=SUITE)
    pytester.runpytest("--aiusage-json=reports/usage.json").assert_outcomes(passed=4)
    data = read_report(pytester.path / "reports" / "usage.json")
    assert data["version"] == 1
    totals = data["totals"]
    assert {k: totals[k] for k in ("calls", "input_tokens", "output_tokens", "total_tokens")} == {
        "calls": 4,
        "input_tokens": 4010,
        "output_tokens": 705,
        "total_tokens": 4715,
    }
    assert Decimal(totals["cost_usd"]) == Decimal("0.004277")
    schema = ("nodeid", "calls", "input_tokens", "output_tokens", "total_tokens", "cost_usd")
    assert [{k: t[k] for k in schema} for t in data["tests"]] == [
        {
            "nodeid": "test_suite.py::test_big",
            "calls": 2,
            "input_tokens": 3000,
            "output_tokens": 200,
            "total_tokens": 3200,
            "cost_usd": "0.0038225",
        },
        {
            "nodeid": "test_suite.py::test_no_ai",
            "calls": 0,
            "input_tokens": 0,
            "output_tokens": 0,
            "total_tokens": 0,
            "cost_usd": "0",
        },
        {
            "nodeid": "test_suite.py::test_small",
            "calls": 1,
            "input_tokens": 1000,
            "output_tokens": 500,
            "total_tokens": 1500,
            "cost_usd": "0.00045",
        },
        {
            "nodeid": "test_suite.py::test_tiny",
            "calls": 1,
            "input_tokens": 10,
            "output_tokens": 5,
            "total_tokens": 15,
            "cost_usd": "0.0000045",
        },
    ]
    big = data["tests"][0]
    assert big["cached_input_tokens"] == 500
    assert sorted(big["by_model"]) == ["gpt-4o", "gpt-4o-mini"]
    assert big["by_model"]["gpt-4o-mini"]["cost_usd"] == "0.0003225"


def test_json_path_from_ini_is_relative_to_the_ini_file(
    pytester: pytest.Pytester, write_ini: Callable[[str], None]
) -> None:
    write_ini("aiusage_json = out/ai.json")
    pytester.makepyfile(test_suite=SUITE)
    pytester.mkdir("sub")
    result = pytester.runpytest("--rootdir", str(pytester.path), str(pytester.path))
    result.assert_outcomes(passed=4)
    data = read_report(pytester.path / "out" / "ai.json")
    assert Decimal(data["totals"]["cost_usd"]) == Decimal("0.004277")
    result.stdout.fnmatch_lines([f"JSON report: {pytester.path / 'out' / 'ai.json'}"])


def test_each_test_that_used_ai_gets_junit_xml_properties(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_suite=SUITE)
    pytester.runpytest("--junitxml=junit.xml").assert_outcomes(passed=4)
    root = ET.parse(pytester.path / "junit.xml").getroot()
    properties = {
        case.get("name"): {p.get("name"): p.get("value") for p in case.iter("property")}
        for case in root.iter("testcase")
    }
    assert properties["test_big"] == {
        "aiusage_calls": "2",
        "aiusage_input_tokens": "3000",
        "aiusage_output_tokens": "200",
        "aiusage_total_tokens": "3200",
        "aiusage_cost_usd": "0.0038225",
        "aiusage_unpriced_calls": "0",
    }
    assert properties["test_small"]["aiusage_cost_usd"] == "0.00045"
    assert properties["test_no_ai"] == {}


def test_wider_scoped_fixture_usage_is_its_own_line_and_charged_to_no_test(
    pytester: pytest.Pytester,
) -> None:
    pytester.makeconftest(
        """
import pytest
from aiusage_core import record_usage

@pytest.fixture(scope="session")
def client():
    record_usage(model="gpt-4o-mini", input_tokens=1000, output_tokens=500)
    return "client"
"""
    )
    pytester.makepyfile(
        test_fixtures=HEADER
        + """
@pytest.fixture(scope="module")
def warm(client):
    record_usage(model="gpt-4o-mini", input_tokens=100, output_tokens=10)
    yield
    record_usage(model="gpt-4o-mini", input_tokens=200, output_tokens=20)

@pytest.mark.ai_budget(calls=0)
def test_first(warm, ai_usage):
    ai_usage.assert_calls(0)

@pytest.mark.ai_budget(calls=1)
def test_second(warm, ai_usage):
    record_usage(model="gpt-4o-mini", input_tokens=10, output_tokens=5)
"""
    )
    result = pytester.runpytest("--aiusage-json=usage.json")
    result.assert_outcomes(passed=2)
    # warm: 100 x 0.15 + 10 x 0.60 = 0.000021 (setup), 200 x 0.15 + 20 x 0.60 = 0.000042
    result.stdout.fnmatch_lines(
        [
            "wider-scoped fixtures (not counted in any test): 3 calls, $0.0005130",
            "  $0.0004500      1 call       1,000 in         500 out  client (session fixture, "
            "setup)",
            "  $0.0000630     2 calls         300 in          30 out  test_fixtures.py::warm "
            "(module fixture, setup + teardown)",
        ]
    )
    data = read_report(pytester.path / "usage.json")
    assert [(t["nodeid"], t["calls"]) for t in data["tests"]] == [
        ("test_fixtures.py::test_first", 0),
        ("test_fixtures.py::test_second", 1),
    ]
    assert [
        (f["nodeid"], f["scope"], f["phase"], f["during"], f["cost_usd"]) for f in data["fixtures"]
    ] == [
        ("client", "session", "setup", "test_fixtures.py::test_first", "0.00045"),
        ("test_fixtures.py::warm", "module", "setup", "test_fixtures.py::test_first", "0.000021"),
        (
            "test_fixtures.py::warm",
            "module",
            "teardown",
            "test_fixtures.py::test_second",
            "0.000042",
        ),
    ]
    assert Decimal(data["totals"]["cost_usd"]) == Decimal("0.0005175")


def test_plugin_hooks_price_observe_and_extend_the_summary(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        """
from decimal import Decimal

seen = []

def pytest_aiusage_price(query):
    if query.model == "my-private-model":
        return Decimal("0.000001") * query.input_tokens + Decimal("0.000004") * query.output_tokens
    return None

def pytest_aiusage_record(record, item):
    seen.append((record.model, item.name if item is not None else None))

def pytest_aiusage_node_usage(usage, config):
    seen.append((usage.kind, usage.nodeid, str(usage.cost_usd)))

def pytest_aiusage_summary(terminalreporter, usage, config):
    terminalreporter.write_line(f"custom: {usage.totals.cost_usd} {seen}")
"""
    )
    pytester.makepyfile(
        test_hooks=HEADER
        + """
@pytest.mark.ai_budget(usd=0.01)
def test_private():
    record = record_usage(model="my-private-model", input_tokens=100, output_tokens=10)
    assert str(record.cost_usd) == "0.000140"

def test_public():
    record_usage(model="gpt-4o-mini", input_tokens=1000, output_tokens=500)
"""
    )
    result = pytester.runpytest()
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(
        [
            "custom: 0.00059 [('my-private-model', 'test_private'), "
            "('test', 'test_hooks.py::test_private', '0.00014'), "
            "('gpt-4o-mini', 'test_public'), ('test', 'test_hooks.py::test_public', '0.00045')]",
        ]
    )


def test_summary_hook_runs_even_without_ai_usage(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        """
def pytest_aiusage_summary(terminalreporter, usage, config):
    terminalreporter.write_line(f"used AI: {usage.used_ai}, tests: {len(usage.tests)}")
"""
    )
    pytester.makepyfile(test_plain="def test_plain():\n    pass\n")
    result = pytester.runpytest()
    result.stdout.fnmatch_lines(["used AI: False, tests: 1"])
    result.stdout.no_fnmatch_line("*AI usage*")


def test_a_json_report_that_cannot_be_written_fails_the_run_and_says_why(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(test_suite=SUITE)
    pytester.makefile(".txt", blocker="not a folder")
    result = pytester.runpytest("--aiusage-json=blocker.txt/usage.json")
    result.assert_outcomes(passed=4)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        ["error: the JSON report could not be written to *blocker.txt/usage.json: *"]
    )
    # One error, and nothing that reads as if the report had been written.
    assert result.stdout.str().count("blocker.txt/usage.json") == 1
    result.stdout.no_fnmatch_line("JSON report: *")
    result.stdout.no_fnmatch_line("warning: *")


def test_the_json_report_replaces_the_previous_one_atomically(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(test_suite=SUITE)
    report = pytester.path / "usage.json"
    report.write_text('{"previous": true}\n')
    with report.open(encoding="utf-8") as reader:
        pytester.runpytest(f"--aiusage-json={report}").assert_outcomes(passed=4)
        # A reader of the old report still reads it whole: the new one is a new file.
        assert reader.read() == '{"previous": true}\n'
    assert read_report(report)["version"] == 1
    assert [p.name for p in pytester.path.glob("*usage.json*")] == ["usage.json"]


def test_a_record_hook_that_raises_is_logged_and_breaks_nothing(
    pytester: pytest.Pytester,
) -> None:
    pytester.makeconftest(
        """
def pytest_aiusage_record(record, item):
    raise RuntimeError("observer bug")
"""
    )
    pytester.makepyfile(
        test_robust=HEADER
        + """
def test_records(ai_usage):
    record_usage(model="gpt-4o-mini", input_tokens=1000, output_tokens=500)
    ai_usage.assert_calls(1)
"""
    )
    result = pytester.runpytest("-rA", "--log-level=ERROR")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        ["*aiusage: record listener * failed*", "RuntimeError: observer bug", "total: 1 call,*"]
    )


OPERATIONS = (
    HEADER
    + """
from aiusage_core import ai_usage_context

def test_batch():
    with ai_usage_context("label_receipt"):
        record_usage(model="gpt-4o-mini", input_tokens=1000, output_tokens=500)
        with ai_usage_context("merchant"):
            record_usage(model="gpt-4o", input_tokens=1000, output_tokens=100)
    record_usage(model="gpt-4o-mini", input_tokens=10, output_tokens=5)
    record_usage(model="my-private-model", input_tokens=7, output_tokens=3)
"""
)
# label_receipt/merchant gpt-4o 0.0035; label_receipt gpt-4o-mini 0.00045;
# (test) gpt-4o-mini 0.0000045; (test) my-private-model unknown


def test_verbose_summary_shows_what_spent_the_money_of_the_top_tests(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(test_ops=OPERATIONS)
    result = pytester.runpytest("-v")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        [
            "most expensive tests (top 1):",
            "  $0.0039545 + unknown (1 call)     4 calls       2,017 in         608 out  "
            "test_ops.py::test_batch",
            "      $0.0035000     1 call     1,000 in       100 out  label_receipt/merchant  "
            "gpt-4o",
            "      $0.0004500     1 call     1,000 in       500 out  label_receipt           "
            "gpt-4o-mini",
            "      $0.0000045     1 call        10 in         5 out  (test)                  "
            "gpt-4o-mini",
            "         unknown     1 call         7 in         3 out  (test)                  "
            "my-private-model",
        ]
    )
    quiet = pytester.runpytest()
    quiet.stdout.no_fnmatch_line("*label_receipt/merchant*")


def test_json_report_breaks_each_test_down_by_operation_and_model_and_lists_calls(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(test_ops=OPERATIONS)
    pytester.runpytest("--aiusage-json=usage.json").assert_outcomes(passed=1)
    (test,) = read_report(pytester.path / "usage.json")["tests"]
    assert "call_log" not in test
    assert {op: (t["calls"], t["cost_usd"]) for op, t in test["by_operation"].items()} == {
        "label_receipt/merchant": (1, "0.0035"),
        "label_receipt": (1, "0.00045"),
        "": (2, "0.0000045"),
    }
    assert list(test["by_operation"]) == ["label_receipt/merchant", "label_receipt", ""]
    assert [(s["operation"], s["model"], s["calls"], s["cost_usd"]) for s in test["spend"]] == [
        ("label_receipt/merchant", "gpt-4o", 1, "0.0035"),
        ("label_receipt", "gpt-4o-mini", 1, "0.00045"),
        ("", "gpt-4o-mini", 1, "0.0000045"),
        ("", "my-private-model", 1, "0"),
    ]
    assert test["spend"][-1]["unpriced_calls"] == 1
    assert test["unreported_calls"] == 0

    pytester.runpytest("--aiusage-json=usage.json", "--aiusage-json-calls").assert_outcomes(
        passed=1
    )
    (test,) = read_report(pytester.path / "usage.json")["tests"]
    calls = test["call_log"]
    assert [
        (c["number"], c["operation"], c["model"], c["input_tokens"], c["cost_usd"]) for c in calls
    ] == [
        (1, "label_receipt", "gpt-4o-mini", 1000, "0.00045"),
        (2, "label_receipt/merchant", "gpt-4o", 1000, "0.0035"),
        (3, "", "gpt-4o-mini", 10, "0.0000045"),
        (4, "", "my-private-model", 7, None),
    ]
    assert all(c["timestamp"].endswith("+00:00") and "request_id" in c for c in calls)


def test_every_kind_of_entry_validates_against_the_shipped_schema(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        test_kinds=HEADER
        + """
import threading
from aiusage_core import ai_usage_context

@pytest.fixture(scope="module")
def warm():
    record_usage(model="gpt-4o-mini", input_tokens=100, output_tokens=10)

@pytest.mark.ai_budget(usd=0.0004, calls=1)
def test_over(warm):
    with ai_usage_context("label"):
        record_usage(model="gpt-4o-mini", input_tokens=1000, output_tokens=500)
    record_usage(model="my-private-model", input_tokens=1, output_tokens=1)

record_usage(model="gpt-4o-mini", input_tokens=10, output_tokens=5)  # at import: outside

def test_stray():
    thread = threading.Thread(
        target=lambda: record_usage(model="gpt-4o-mini", input_tokens=10, output_tokens=5),
        name="stray",
    )
    thread.start()
    thread.join()

def test_none():
    pass
"""
    )
    result = pytester.runpytest(
        "--aiusage-json=usage.json", "--aiusage-json-calls", "--aiusage-unpriced=ignore"
    )
    result.assert_outcomes(passed=2, failed=1)
    data = read_report(pytester.path / "usage.json")  # validates
    over = next(t for t in data["tests"] if t["nodeid"] == "test_kinds.py::test_over")
    assert over["budget"] == {"usd": "0.0004", "calls": 1}
    assert over["over_budget"] == ["usd", "calls"]
    assert [c["cost_usd"] for c in over["call_log"]] == ["0.00045", None]
    assert [n["kind"] for n in data["fixtures"]] == ["fixture"]
    assert [n["kind"] for n in data["outside"]] == ["outside"]
    stray = next(t for t in data["tests"] if t["nodeid"] == "test_kinds.py::test_stray")
    assert stray["unpropagated"] == {"stray": 1}
    assert list(data["by_operation"]) == ["label", ""]

    schema = report_schema()
    assert schema["properties"]["version"] == {
        "const": JSON_VERSION,
        "description": "Bumped only when a field is removed or changes meaning.",
    }
    broken = copy.deepcopy(data)
    broken["tests"][0]["cost_usd"] = 0.00045  # a float, not an exact decimal string
    with pytest.raises(jsonschema.ValidationError, match="is not of type 'string'"):
        jsonschema.validate(broken, schema)
