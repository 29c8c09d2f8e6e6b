"""pytest_aiusage: the pytest plugin of pytest-aiusage.

Installed, it is active in every pytest run (``-p no:aiusage`` turns it off): each test runs
in a usage context, ``@pytest.mark.ai_budget(usd=...)`` fails tests over budget, and the run
ends with a cost report. This module is the public API; underscored modules are private.
"""

from __future__ import annotations

from aiusage_core import __version__

from ._budget import Budget
from ._cassettes._matchers import openai_vcr_config
from ._fixture import AIUsage
from ._results import NodeUsage, SessionUsage, report_schema

__all__ = [
    "AIUsage",
    "Budget",
    "NodeUsage",
    "SessionUsage",
    "__version__",
    "openai_vcr_config",
    "report_schema",
]
