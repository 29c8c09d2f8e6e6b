"""The names the plugin gives a suite: its command-line options, ini keys and markers.

A plugin of its own (entry point ``aiusage_names``), so that they stay known when the
plugin itself is turned off with ``-p no:aiusage``: a suite whose tests carry
``ai_budget`` markers and whose ini file sets ``aiusage_*`` keys (or whose ``addopts``
name ``--aiusage-*`` options) still runs under ``--strict-markers`` and
``--strict-config``, with no budget checked, no usage tracked and no report. ``_plugin``
registers this module itself if the entry point did not (``-p pytest_aiusage._plugin``
with plugin autoloading off).
"""

from __future__ import annotations

from typing import Final

import pytest

from ._baseline import add_baseline_options
from ._cassettes._recording import HELP_RECORD
from ._options import add_options, option_group

__all__ = ["BUDGET_MARKER", "CASSETTE_MARKER", "FAKE_MARKER"]

BUDGET_MARKER: Final = "ai_budget"
CASSETTE_MARKER: Final = "openai_cassette"
FAKE_MARKER: Final = "fake_openai"
"""The marker that points the client fixtures at the fake server (no key needed)."""

_MARKERS: Final = (
    f"{BUDGET_MARKER}(usd=None, tokens=None, input_tokens=None, output_tokens=None, "
    "calls=None, hard=False, output_cap=None, refuse_unbounded=False): fail the test when its "
    "AI usage goes over any of these limits; hard=True refuses the call that would go over "
    "before it is sent, reserving output_cap output tokens for a call that sets no cap (or "
    "refusing it with refuse_unbounded=True) (pytest-aiusage)",
    f"{FAKE_MARKER}: the openai_client and async_openai_client fixtures talk to the "
    "fake_openai loopback server, with a dummy key (pytest-aiusage)",
    "fake_anthropic: the anthropic_client and async_anthropic_client fixtures talk to the "
    "fake_anthropic loopback server, with a dummy key (pytest-aiusage)",
    f"{CASSETTE_MARKER}: match this test's cassette the OpenAI way (method, path, query, JSON "
    "body; host and port ignored) unless its vcr_config sets match_on (pytest-aiusage)",
)
HELP_CASSETTE_REPORT: Final = (
    "list, at the end of the run, recorded interactions of the cassettes used that no test "
    "played, and tests whose cassette is missing."
)
HELP_OPENAI_MATCHING: Final = (
    "match every cassette of the run the OpenAI way (method, path, query, JSON body; host and "
    "port ignored) unless its vcr_config sets match_on; otherwise only tests that use the "
    "plugin's client or fake-server fixtures (OpenAI's or Anthropic's), or the "
    "openai_cassette, fake_openai or fake_anthropic marker, are."
)


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)
    add_baseline_options(parser)
    group = option_group(parser)
    group.addoption(
        "--aiusage-cassette-report",
        action="store_true",
        dest="aiusage_cassette_report",
        default=None,
        help=HELP_CASSETTE_REPORT,
    )
    parser.addini("aiusage_cassette_report", HELP_CASSETTE_REPORT, type="bool", default=False)
    parser.addini("aiusage_openai_matching", HELP_OPENAI_MATCHING, type="bool", default=False)
    group.addoption(
        "--aiusage-record",
        action="store_true",
        dest="aiusage_record",
        default=False,
        help=HELP_RECORD,
    )


def pytest_configure(config: pytest.Config) -> None:
    for marker in _MARKERS:
        config.addinivalue_line("markers", marker)
