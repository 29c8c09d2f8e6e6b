"""aiusage_core: attribute the tokens and exact cost of AI calls to nested usage contexts.

::

    from aiusage_core import ai_usage_context, wrap_openai

    client = wrap_openai(OpenAI())
    with ai_usage_context("receipt_batch", job_id="job-123") as usage:
        client.chat.completions.create(model="gpt-4o-mini", messages=[...])
    print(usage.totals.cost_usd)

This module is the public API; everything in underscored modules is private.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError as _PackageNotFoundError
from importlib.metadata import version as _version

from ._anthropic import instrument_anthropic, uninstrument_anthropic, wrap_anthropic
from ._budget import Budget, BudgetAmounts, BudgetStatus
from ._checks import (
    PropagationReport,
    PropagationResult,
    acheck_propagation,
    check_propagation,
)
from ._config import Settings, configure, settings
from ._context import (
    UsageContext,
    ai_usage_context,
    batch_ai_usage_context,
    current_context,
)
from ._decorator import ai_usage_tracked
from ._delivery import flush
from ._errors import (
    AIUsageError,
    BudgetExceededError,
    ConfigurationError,
    ContextError,
    LedgerError,
    MetadataError,
    SchemaVersionError,
)
from ._jsonl import JsonlSink
from ._ledger import GroupTotals, Ledger, LedgerReport
from ._metadata import environment_tags, merge_metadata
from ._openai import (
    create_wrapped_openai_client,
    instrument_openai,
    uninstrument_openai,
    wrap_openai,
)
from ._otel import OTelSink
from ._partial import PartialFailureTracker, partial_failure_context
from ._postgres import PostgresSink
from ._pricing import CustomPrice, PriceQuery, PriceResolver
from ._propagation import ContextThreadPoolExecutor, propagate
from ._recording import record_usage
from ._records import ErrorInfo, UsageRecord, UsageStatus, UsageTotals
from ._sinks import MemorySink, Sink
from ._sqlite import SQLiteSink

try:
    __version__ = _version("pytest-aiusage")
except _PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

__all__ = [
    "AIUsageError",
    "Budget",
    "BudgetAmounts",
    "BudgetExceededError",
    "BudgetStatus",
    "ConfigurationError",
    "ContextError",
    "ContextThreadPoolExecutor",
    "CustomPrice",
    "ErrorInfo",
    "GroupTotals",
    "JsonlSink",
    "Ledger",
    "LedgerError",
    "LedgerReport",
    "MemorySink",
    "MetadataError",
    "OTelSink",
    "PartialFailureTracker",
    "PostgresSink",
    "PriceQuery",
    "PriceResolver",
    "PropagationReport",
    "PropagationResult",
    "SQLiteSink",
    "SchemaVersionError",
    "Settings",
    "Sink",
    "UsageContext",
    "UsageRecord",
    "UsageStatus",
    "UsageTotals",
    "__version__",
    "acheck_propagation",
    "ai_usage_context",
    "ai_usage_tracked",
    "batch_ai_usage_context",
    "check_propagation",
    "configure",
    "create_wrapped_openai_client",
    "current_context",
    "environment_tags",
    "flush",
    "instrument_anthropic",
    "instrument_openai",
    "merge_metadata",
    "partial_failure_context",
    "propagate",
    "record_usage",
    "settings",
    "uninstrument_anthropic",
    "uninstrument_openai",
    "wrap_anthropic",
    "wrap_openai",
]
