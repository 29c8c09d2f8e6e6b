"""Ctrl-C keeps the interrupted test's calls in the summary and the JSON report."""

from __future__ import annotations

import json

import pytest

SUITE = """
from aiusage_core import record_usage

def test_first():
    record_usage(model="gpt-4o-mini", input_tokens=1000, output_tokens=500)

def test_interrupted():
    record_usage(model="gpt-4o-mini", input_tokens=2000, output_tokens=100)
    record_usage(model="gpt-4o-mini", input_tokens=10, output_tokens=5)
    raise KeyboardInterrupt  # what Ctrl-C raises in the running test

def test_never_run():
    record_usage(model="gpt-4o-mini", input_tokens=1, output_tokens=1)
"""


def test_ctrl_c_keeps_the_interrupted_tests_calls_in_the_reports(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(test_suite=SUITE)
    result = pytester.runpytest_subprocess("--aiusage-json=usage.json", "-p", "no:randomly")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    # 1,000 x 0.15 + 500 x 0.60 = 0.00045; 2,010 x 0.15 + 105 x 0.60 = 0.0003645 (per million)
    result.stdout.fnmatch_lines(
        [
            "*= AI usage =*",
            "total: 3 calls, 3,010 input + 605 output = 3,615 tokens, $0.0008145 *",
            "*test_suite.py::test_first",
            "*test_suite.py::test_interrupted",
            "*KeyboardInterrupt*",
        ]
    )
    data = json.loads((pytester.path / "usage.json").read_text())
    tests = {t["nodeid"]: t for t in data["tests"]}
    assert tests["test_suite.py::test_interrupted"]["calls"] == 2
    assert tests["test_suite.py::test_interrupted"]["cost_usd"] == "0.0003645"
    assert tests["test_suite.py::test_first"]["calls"] == 1
    assert "test_suite.py::test_never_run" not in tests
    assert data["totals"]["calls"] == 3
