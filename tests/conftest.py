"""Shared fixtures of the pytest-aiusage test suite.

Our own suite runs with ``-p no:aiusage`` (see pyproject.toml): the core is tested without a
per-test usage context around it, and the plugin is tested through ``pytester``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpcore2
import pytest
from hypothesis import HealthCheck, settings

from aiusage_core import configure, flush

# Hypothesis profiles: "ci" (the default: fast and derandomized, so a CI run is repeatable)
# and "nightly" (thorough, random). Choose one with hypothesis' own option:
# ``pytest --hypothesis-profile=nightly``.
settings.register_profile(
    "ci",
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("nightly", max_examples=2_000, deadline=None)
settings.load_profile("ci")

# httpx2 loads httpcore2 at a client's first request and caches its map of httpcore2's
# exceptions once. An in-process pytester run restores ``sys.modules`` afterwards, so when a
# worker's first request happens inside one, httpcore2 is unloaded and re-imported later with
# new exception classes that the cached map no longer knows: a dropped connection then
# escapes as a raw ``httpcore2.RemoteProtocolError`` instead of ``openai.APIConnectionError``.
# Importing it here puts it in every snapshot.
assert httpcore2.RemoteProtocolError


# Inner pytester runs of the plugin leave out the cache and the unrelated plugins installed
# alongside, which only slow every (sub)process down.
INNER_ADDOPTS = (
    "-p no:cacheprovider -p no:benchmark -p no:hypothesispytest -p no:pytest_httpserver "
    "-p no:recording -p no:anyio -p no:html -p no:metadata"
)


@pytest.fixture
def write_ini(pytester: pytest.Pytester) -> Callable[[str], None]:
    """Write the inner run's ``tox.ini``: our addopts plus ``extra`` lines."""

    def write(extra: str = "") -> None:
        pytester.makeini(f"[pytest]\naddopts = {INNER_ADDOPTS}\n{extra}\n")

    return write


@pytest.fixture(autouse=True)
def _isolated_aiusage_settings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Every test starts from default settings with fixed environment tags, and leaves none.

    Spools of failing test sinks go to a temporary folder, never the user's spool folder.
    """
    spool = tmp_path_factory.mktemp("spool")
    with configure(
        sinks=[], environment={"environment": "test", "ci": False}, spool_dir=str(spool)
    ):
        yield
        flush()
