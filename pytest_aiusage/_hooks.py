"""Hooks the plugin adds to pytest (registered with ``pytest_addhooks``).

Implement them in a ``conftest.py`` or a plugin, like any pytest hook::

    def pytest_aiusage_price(query):
        if query.model.startswith("ft:my-model"):
            return Decimal("0.000002") * (query.input_tokens + query.output_tokens)
        return None
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from aiusage_core import PriceQuery, UsageRecord

    from ._results import NodeUsage, SessionUsage


@pytest.hookspec
def pytest_aiusage_record(record: UsageRecord, item: pytest.Item | None) -> None:
    """Called for every AI usage record made in this process while the plugin is active.

    ``item`` is the test running when the record was made, or ``None`` outside any test
    (e.g. at import time). Under xdist this runs in the worker that made the call. It must
    not raise: an exception is logged on the ``aiusage`` logger and otherwise ignored.
    """


@pytest.hookspec(firstresult=True)
def pytest_aiusage_price(query: PriceQuery) -> Decimal | None:
    """Price one call, before the price tables; return ``None`` to leave it to them.

    Use it for fine-tuned or self-hosted models genai-prices does not know. The first
    implementation that returns a value wins. Under xdist it runs in the workers, so define
    it in a ``conftest.py`` or a plugin every worker loads.
    """


@pytest.hookspec
def pytest_aiusage_node_usage(usage: NodeUsage, config: pytest.Config) -> None:
    """Called once for every test, and for every wider-scoped fixture or stray call that made
    AI calls, as its usage arrives in the process that reports (the xdist controller, or the
    only process of a serial run)."""


@pytest.hookspec
def pytest_aiusage_summary(
    terminalreporter: pytest.TerminalReporter, usage: SessionUsage, config: pytest.Config
) -> None:
    """Called at the end of the AI usage section of the terminal summary (also when no AI
    was used, in which case the section itself is not printed): add your own lines with
    ``terminalreporter.write_line``."""
