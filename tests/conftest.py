"""Shared fixtures of the pytest-aiusage test suite.

Our own suite runs with ``-p no:aiusage`` (see pyproject.toml): the core is tested without a
per-test usage context around it, and the plugin is tested through ``pytester``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from aiusage_core import configure, flush


@pytest.fixture(autouse=True)
def _isolated_aiusage_settings() -> Iterator[None]:
    """Every test starts from default settings with fixed environment tags, and leaves none."""
    with configure(sinks=[], environment={"environment": "test", "ci": False}):
        yield
        flush()
