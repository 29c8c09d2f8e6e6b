"""The public API is exactly what ``__all__`` lists, and DESIGN.md's names are in it."""

from __future__ import annotations

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
