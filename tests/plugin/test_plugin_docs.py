"""The Python examples of docs/plugin.md run, and do what the page says."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOC = Path(__file__).parents[2] / "docs" / "plugin.md"
BLOCKS = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)


def test_the_page_has_its_examples() -> None:
    assert len(BLOCKS) == 4


@pytest.mark.parametrize("block", [b for b in BLOCKS if "def test_" in b], ids=["intro", "budgets"])
def test_example_tests_pass_under_the_plugin(pytester: pytest.Pytester, block: str) -> None:
    pytester.makepyfile(test_example=block)
    result = pytester.runpytest("--strict-markers")
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(["*= AI usage =*", "total: 1 call,*"])


def test_example_hooks_price_a_fine_tune_and_add_a_summary_line(
    pytester: pytest.Pytester,
) -> None:
    (hooks,) = [b for b in BLOCKS if "def pytest_aiusage_price" in b]
    pytester.makeconftest(hooks)
    pytester.makepyfile(
        test_fine_tune="""
from aiusage_core import record_usage

def test_fine_tune():
    record_usage(model="ft:gpt-4o-mini:acme:receipts:1", input_tokens=1000, output_tokens=100)
"""
    )
    result = pytester.runpytest()
    result.assert_outcomes(passed=1)
    # 1,000 x 0.0000003 + 100 x 0.0000012 = 0.0003 + 0.00012
    result.stdout.fnmatch_lines(["AI spend of this run: $0.00042*"])


def test_example_of_the_python_api_runs() -> None:
    (api,) = [b for b in BLOCKS if "Budget.parse" in b]
    exec(compile(api, str(DOC), "exec"), {})
