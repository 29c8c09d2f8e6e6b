"""The public API is exactly what ``__all__`` lists, and DESIGN.md's names are in it."""

from __future__ import annotations

import subprocess
import sys

import aiusage_core

DESIGN_NAMES = {
    "ai_usage_context",
    "batch_ai_usage_context",
    "partial_failure_context",
    "ai_usage_tracked",
    "current_context",
    "record_usage",
    "propagate",
    "ContextThreadPoolExecutor",
    "configure",
    "UsageContext",
    "UsageRecord",
    "UsageTotals",
    "Sink",
    "MemorySink",
    "JsonlSink",
    "SQLiteSink",
    "PostgresSink",
    "Budget",
    "BudgetExceededError",
    "wrap_openai",
    "instrument_openai",
    "uninstrument_openai",
    "wrap_anthropic",
    "instrument_anthropic",
    "uninstrument_anthropic",
}


def test_all_is_sorted_and_complete() -> None:
    public = {n for n in dir(aiusage_core) if not n.startswith("_")} | {"__version__"}
    submodules = {"annotations"}
    assert sorted(aiusage_core.__all__) == aiusage_core.__all__
    assert set(aiusage_core.__all__) == public - submodules


def test_design_names_are_exported() -> None:
    assert set(aiusage_core.__all__) >= DESIGN_NAMES


def test_every_public_name_has_a_docstring() -> None:
    for name in aiusage_core.__all__:
        obj = getattr(aiusage_core, name)
        if name in {"__version__", "UsageStatus", "PriceResolver"}:
            continue
        assert (obj.__doc__ or "").strip(), name


def test_importing_the_package_imports_no_provider_sdk() -> None:
    # The SDKs take about a second each to import: only the wrap_*/instrument_* functions
    # that need one import it, on first use.
    code = "import sys, aiusage_core; print(sorted({'openai', 'anthropic'} & set(sys.modules)))"
    found = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert found.strip() == "[]"
