"""``--aiusage-compare=NAME``: per-test deltas, new and removed tests, price-table warnings."""

from __future__ import annotations

import json
import shutil

import genai_prices
import pytest
from baselines_testing import SUMMARISE, read_baseline, section

HEADER = ["test", "baseline", "cost", "current", "cost", "delta", "%", "tokens", "delta"]


def _save(pytester: pytest.Pytester, name: str = "main") -> None:
    pytester.runpytest(f"--aiusage-save={name}").assert_outcomes(passed=3)


def test_an_unchanged_run_shows_no_table(pytester: pytest.Pytester) -> None:
    _save(pytester)
    result = pytester.runpytest("--aiusage-compare=main")
    assert result.ret == pytest.ExitCode.OK
    lines = section(result)
    assert lines[0].startswith(
        "compared with baseline 'main' (.aiusage/baselines/main.json), saved 20"
    )
    assert lines[1:] == [
        "tests: 0 changed, 3 unchanged, 0 new, 0 removed (not run now)",
        "total: $0.00431 -> $0.00431 (0%), tokens 0, calls 0",
    ]


def test_a_changed_test_gets_a_row_with_its_deltas(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    _save(pytester)
    monkeypatch.setenv("AIU_SUMMARISE_IN", "1100")
    result = pytester.runpytest("--aiusage-compare=main")
    assert result.ret == pytest.ExitCode.OK
    lines = section(result)
    assert lines[1] == "tests: 1 changed, 2 unchanged, 0 new, 0 removed (not run now)"
    assert lines[2].split() == [*HEADER, "calls", "delta"]
    # 0.00045 -> 0.000465 is +3.33...%; 1,500 -> 1,600 tokens; the same one call.
    assert lines[3].split() == [SUMMARISE, "$0.000450", "$0.000465", "+3.3%", "+100", "0"]
    # Columns line up under the header.
    assert lines[3].index("$0.000465") + len("$0.000465") == lines[2].index("current cost") + len(
        "current cost"
    )
    assert lines[4] == "total: $0.004310 -> $0.004325 (+0.3%), tokens +100, calls 0"


def test_a_changed_model_and_falls_are_shown(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    _save(pytester)
    # gpt-4o: 1,000 x 2.50 + 500 x 10.00 per million = 0.0075 (+1,566.7%)
    monkeypatch.setenv("AIU_SUMMARISE_MODEL", "gpt-4o")
    result = pytester.runpytest("--aiusage-compare=main")
    lines = section(result)
    assert lines[3].split() == [
        SUMMARISE,
        *("$0.00045", "$0.00750", "+1,566.7%", "0", "0"),
        *("(models:", "gpt-4o-mini", "->", "gpt-4o)"),
    ]

    # 500 input tokens: 0.000075 + 0.0003 = 0.000375, 16.7% cheaper.
    monkeypatch.setenv("AIU_SUMMARISE_MODEL", "gpt-4o-mini")
    monkeypatch.setenv("AIU_SUMMARISE_IN", "500")
    lines = section(pytester.runpytest("--aiusage-compare=main"))
    assert lines[3].split() == [SUMMARISE, "$0.000450", "$0.000375", "-16.7%", "-500", "0"]


def test_tests_that_start_making_calls_grow_from_zero(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    _save(pytester)
    # 2 x (10 x 0.15 + 5 x 0.60) per million = 0.000009
    monkeypatch.setenv("AIU_NO_AI_CALLS", "2")
    lines = section(pytester.runpytest("--aiusage-compare=main"))
    assert lines[3].split() == [
        "test_suite.py::test_no_ai",
        *("$0.000000", "$0.000009", "+inf%", "+30", "+2"),
        *("(models:", "none", "->", "gpt-4o-mini)"),
    ]


def test_new_tests_are_listed_and_removed_tests_counted(pytester: pytest.Pytester) -> None:
    _save(pytester)
    pytester.makepyfile(
        test_added="""
from aiusage_core import record_usage

def test_new_feature():
    record_usage(model="gpt-4o-mini", input_tokens=2000, output_tokens=1000)

def test_new_without_ai():
    pass
"""
    )
    # 2,000 x 0.15 + 1,000 x 0.60 per million = 0.0003 + 0.0006 = 0.0009
    result = pytester.runpytest("--aiusage-compare=main", "--deselect", SUMMARISE)
    result.assert_outcomes(passed=4, deselected=1)
    assert section(result)[1:] == [
        "tests: 0 changed, 2 unchanged, 2 new, 1 removed (not run now)",
        "new since the baseline (not compared):",
        "  test_added.py::test_new_feature: 1 call, 3,000 tokens, $0.0009",
        # 0.00431 - 0.00045 + 0.0009 = 0.00476
        "total: $0.00431 -> $0.00476 (+10.4%), tokens +1,500, calls 0",
    ]


def test_a_different_genai_prices_version_is_warned_about(pytester: pytest.Pytester) -> None:
    _save(pytester)
    path = pytester.path / ".aiusage" / "baselines" / "main.json"
    data = read_baseline(pytester)
    data["run"]["genai_prices_version"] = "0.0.1"
    path.write_text(json.dumps(data), encoding="utf-8")
    result = pytester.runpytest("--aiusage-compare=main")
    assert result.ret == pytest.ExitCode.OK
    assert section(result)[1] == (
        f"warning: the baseline was priced with genai-prices 0.0.1 and this run with "
        f"{genai_prices.__version__}: prices may have moved, so a cost delta may come from the "
        f"price tables rather than from usage (token and call deltas are unaffected)"
    )


def test_a_path_to_a_baseline_file_can_be_compared_with(pytester: pytest.Pytester) -> None:
    _save(pytester)
    pytester.mkdir("kept")
    shutil.copy(pytester.path / ".aiusage" / "baselines" / "main.json", "kept/release.json")
    result = pytester.runpytest("--aiusage-compare=kept/release.json")
    assert result.ret == pytest.ExitCode.OK
    assert section(result)[0].startswith(
        f"compared with baseline {pytester.path / 'kept' / 'release.json'}, saved 20"
    )


def test_compare_and_save_in_one_run_compares_with_the_old_baseline(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    _save(pytester)
    monkeypatch.setenv("AIU_SUMMARISE_IN", "1100")
    result = pytester.runpytest("--aiusage-compare=main", "--aiusage-save=main")
    lines = section(result)
    assert lines[3].split()[:3] == [SUMMARISE, "$0.000450", "$0.000465"]
    assert lines[-1] == "saved baseline 'main' to .aiusage/baselines/main.json (3 tests, $0.004325)"
    assert read_baseline(pytester)["totals"]["cost_usd"] == "0.004325"


def test_a_missing_baseline_is_a_usage_error(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--aiusage-compare=main")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    path = pytester.path / ".aiusage" / "baselines" / "main.json"
    result.stderr.fnmatch_lines([f"ERROR: --aiusage-compare='main': no baseline at {path}"])


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("{not json", "cannot read the baseline *: Expecting property name*"),
        (
            '{"version": 1, "tests": []}',
            "* is not a pytest-aiusage baseline this version can read: *",
        ),
        (
            '{"format": "pytest-aiusage-baseline", "version": 9, "tests": []}',
            "*can read: its version 9 is not supported (expected 1)",
        ),
        (
            '{"format": "pytest-aiusage-baseline", "version": 1, "tests": [{"calls": 1}]}',
            "*can read: 'nodeid'",
        ),
    ],
    ids=["not-json", "not-a-baseline", "newer-version", "no-nodeid"],
)
def test_an_unreadable_baseline_is_a_usage_error_naming_the_file(
    pytester: pytest.Pytester, content: str, reason: str
) -> None:
    pytester.makefile(".json", broken=content)
    result = pytester.runpytest("--aiusage-compare=broken.json")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: --aiusage-compare='broken.json': {reason}"])


@pytest.mark.parametrize("value", [".hidden", "a b", ""])
def test_a_bad_baseline_name_is_a_usage_error(pytester: pytest.Pytester, value: str) -> None:
    result = pytester.runpytest(f"--aiusage-compare={value}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: --aiusage-compare={value!r} *"])


OFFLINE = """
import os

import openai
import pytest
from aiusage_core import record_usage, wrap_openai


def test_ask():
    if "AIU_DEAD_URL" not in os.environ:  # as recorded: the API answered
        record_usage(model="gpt-4o-mini-2024-07-18", input_tokens=1000, output_tokens=500)
        return
    client = wrap_openai(
        openai.OpenAI(api_key="k", base_url=os.environ["AIU_DEAD_URL"], max_retries=0)
    )
    with pytest.raises(openai.APIConnectionError):
        client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user",
                                                                      "content": "hi"}])
"""


def test_a_request_that_never_left_is_no_model_change_and_no_unpriced_cost(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pytest_aiusage.fake_openai import FakeOpenAI

    pytester.makepyfile(test_suite=OFFLINE)
    pytester.runpytest("--aiusage-save=main").assert_outcomes(passed=1)
    with FakeOpenAI() as server:
        dead = server.url
    monkeypatch.setenv("AIU_DEAD_URL", dead)  # refused: the request never leaves
    # In a subprocess: the HTTP stack imported in-process would be forgotten after the run,
    # and imported again later, with exception classes httpx2 no longer recognises.
    result = pytester.runpytest_subprocess("--aiusage-compare=main")
    result.assert_outcomes(passed=1)
    lines = section(result)
    # The figures changed (a failed call, $0), but no model did, and nothing is unpriced.
    assert lines[3].split() == [
        "test_suite.py::test_ask",
        "$0.00045",
        "$0.00000",
        "-100.0%",
        "-1,500",
        "0",
        "(failed",
        "calls:",
        "0",
        "->",
        "1)",
    ]
    result.stdout.no_fnmatch_line("* unpriced*")  # no "$0 + 1 unpriced", no "unpriced" row
