"""Helpers of the cost-baseline tests: the inner test suite and readers of its results.

Every test drives inner pytest runs with ``pytester`` (the inner runs load the plugin from its
entry point) over :data:`SUITE`, whose figures environment variables change between runs, so
the test files never need rewriting. Expected figures are computed by hand from genai-prices'
published prices (US dollars per million tokens): gpt-4o-mini input 0.15, output 0.60;
gpt-4o input 2.50, output 10.00.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

SUITE = """
import os
from aiusage_core import record_usage

def test_summarise():
    record_usage(
        model=os.environ.get("AIU_SUMMARISE_MODEL", "gpt-4o-mini"),
        input_tokens=int(os.environ.get("AIU_SUMMARISE_IN", "1000")),
        output_tokens=500,
    )

def test_label():
    record_usage(model="gpt-4o-mini", input_tokens=2000, output_tokens=100)
    record_usage(model="gpt-4o", input_tokens=1000, output_tokens=100)

def test_no_ai():
    for _ in range(int(os.environ.get("AIU_NO_AI_CALLS", "0"))):
        record_usage(model="gpt-4o-mini", input_tokens=10, output_tokens=5)
"""
# As written (no variable set):
# test_summarise: 1,000 x 0.15 + 500 x 0.60 per million = 0.00015 + 0.0003 = 0.00045
# test_label: gpt-4o-mini 2,000 x 0.15 + 100 x 0.60 = 0.0003 + 0.00006 = 0.00036;
#             gpt-4o 1,000 x 2.50 + 100 x 10.00 = 0.0025 + 0.001 = 0.0035; together 0.00386
# test_no_ai: nothing
# all tests: 0.00431
# With AIU_SUMMARISE_IN=1100, test_summarise costs 0.000165 + 0.0003 = 0.000465 (+3.3%,
# 1,600 tokens: +100, +6.7%).
SUMMARISE = "test_suite.py::test_summarise"
LABEL = "test_suite.py::test_label"
NO_AI = "test_suite.py::test_no_ai"


def read_baseline(pytester: pytest.Pytester, name: str = "main") -> dict[str, Any]:
    """The saved baseline ``name`` from the default directory."""
    path: Path = pytester.path / ".aiusage" / "baselines" / f"{name}.json"
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def section(result: pytest.RunResult) -> list[str]:
    """The lines of the ``AI usage baseline`` section of the terminal summary."""
    lines = result.outlines
    start = next(i for i, line in enumerate(lines) if " AI usage baseline " in line)
    end = next((i for i in range(start + 1, len(lines)) if lines[i][:1] in ("=", "!")), len(lines))
    return lines[start + 1 : end]
