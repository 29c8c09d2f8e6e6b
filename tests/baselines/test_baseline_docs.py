"""docs/baselines.md shows what the plugin really prints and saves."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from baselines_testing import read_baseline, section

DOC = (Path(__file__).parents[2] / "docs" / "baselines.md").read_text(encoding="utf-8")
BLOCKS = re.findall(r"```(\w+)\n(.*?)```", DOC, flags=re.S)

# The example project of the page: on a pull request (AIU_PR set) the summarising prompt
# grew and a test was added.
RECEIPTS = """
import os

from aiusage_core import record_usage

PR = bool(os.environ.get("AIU_PR"))


def test_label_receipt():
    record_usage(model="gpt-4o", input_tokens=1000, output_tokens=100)


def test_summarise_receipt():
    record_usage(model="gpt-4o-mini", input_tokens=1400 if PR else 1000, output_tokens=500)


def test_parse_date():
    pass


if PR:

    def test_translate_receipt():
        record_usage(model="gpt-4o-mini", input_tokens=800, output_tokens=200)
"""


def _block(language: str, contains: str) -> str:
    (block,) = [text for lang, text in BLOCKS if lang == language and contains in text]
    return str(block)


@pytest.fixture
def receipts(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """The page's example project with its main-branch baseline saved."""
    monkeypatch.delenv("AIU_PR", raising=False)
    pytester.makepyfile(test_receipts=RECEIPTS)
    pytester.runpytest("test_receipts.py", "--aiusage-save=main").assert_outcomes(passed=3)
    return pytester


def test_the_comparison_example_is_what_the_plugin_prints(
    receipts: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIU_PR", "1")
    result = receipts.runpytest(
        "test_receipts.py", "--aiusage-compare=main", "--aiusage-compare-fail=usd:10%"
    )
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    documented = _block("text", "AI usage baseline").splitlines()
    got = section(result)
    # The first line differs only in the time saved and the commit (pytester's directory is
    # no git repository).
    assert re.sub(r", saved .*", "", documented[1]) == re.sub(r", saved .*", "", got[0])
    assert documented[2:] == got[1:]


def test_the_file_example_is_what_the_plugin_saves(receipts: pytest.Pytester) -> None:
    documented: dict[str, Any] = json.loads(_block("json", '"format"'))
    saved = read_baseline(receipts)
    assert documented.keys() == saved.keys()
    assert documented["run"].keys() == saved["run"].keys()
    for key in ("format", "version", "name", "totals"):
        assert documented[key] == saved[key]
    saved_tests = {t["nodeid"]: t for t in saved["tests"]}
    for test in documented["tests"]:
        assert test == saved_tests[test["nodeid"]]


@pytest.mark.parametrize(
    "line",
    _block("text", "ERROR: --aiusage-compare-fail").splitlines(),
)
def test_the_documented_usage_errors_are_what_the_plugin_says(
    pytester: pytest.Pytester, line: str
) -> None:
    value = re.match(r"ERROR: --aiusage-compare-fail='([^']*)'", line)
    assert value is not None
    pytester.runpytest("--aiusage-save=main")
    args = [f"--aiusage-compare-fail={value.group(1)}"]
    if "needs a baseline" not in line:
        args.append("--aiusage-compare=main")
    result = pytester.runpytest(*args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert line in result.errlines


def test_the_documented_options_are_in_help(pytester: pytest.Pytester) -> None:
    options = re.findall(r"^\| `(--aiusage-[a-z-]+=[A-Z_]+)` \|", DOC, flags=re.M)
    ini_keys = re.findall(r"^\| none \| `(aiusage_[a-z_]+)` \|", DOC, flags=re.M)
    assert len(options) == 3
    assert ini_keys == ["aiusage_baseline_dir"]
    result = pytester.runpytest("--help")
    result.stdout.fnmatch_lines(
        [
            "AI usage and cost budgets (pytest-aiusage):",
            *(f"  {option}*" for option in options),
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "  aiusage_baseline_dir (string):",
            "*directory of the baselines --aiusage-save writes and*",
        ]
    )
