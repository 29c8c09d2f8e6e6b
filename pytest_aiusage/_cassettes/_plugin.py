"""The cassette side of the plugin (loaded by ``_plugin`` through ``pytest_plugins``).

It builds on pytest-recording: its ``vcr`` marker, ``--record-mode`` and ``vcr_config``, handed
to vcrpy as the user gave them. Here: scrubbing for every cassette, OpenAI-safe matching for
the tests that opt in (``pytest_recording_configure``), the client fixtures, a readable
failure for a request no cassette answers, and the
``--aiusage-cassette-report`` summary. Every hook hands over to the module doing the work;
vcrpy is imported only once a cassette is used.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any, Final

import pytest

from .._options import option_group
from ._fixtures import (
    CASSETTE_MARKER,
    aiusage_fake_anthropic_server,
    aiusage_fake_openai_server,
    anthropic_client,
    async_anthropic_client,
    async_openai_client,
    fake_anthropic,
    fake_openai,
    openai_client,
    wants_openai_matching,
)
from ._providers import ANTHROPIC
from ._recording import HELP_RECORD, recording_header, start_recording, stop_recording
from ._replay_failure import FAKE_MARKER, find_replay_error, replay_failure_message
from ._report import PAYLOAD_ATTR, CassetteReport, cassette_payload
from ._state import cassette_state

__all__ = [
    "aiusage_fake_anthropic_server",
    "aiusage_fake_openai_server",
    "anthropic_client",
    "async_anthropic_client",
    "async_openai_client",
    "fake_anthropic",
    "fake_openai",
    "openai_client",
]

HELP_CASSETTE_REPORT = (
    "list, at the end of the run, recorded interactions of the cassettes used that no test "
    "played, and tests whose cassette is missing."
)
_MARKER: Final = (
    f"{FAKE_MARKER}: the openai_client and async_openai_client fixtures talk to the "
    "fake_openai loopback server, with a dummy key (pytest-aiusage)"
)
_ANTHROPIC_MARKER: Final = (
    f"{ANTHROPIC.fake_marker}: the anthropic_client and async_anthropic_client fixtures talk "
    "to the fake_anthropic loopback server, with a dummy key (pytest-aiusage)"
)
HELP_OPENAI_MATCHING = (
    "match every cassette of the run the OpenAI way (method, path, query, JSON body; host and "
    "port ignored) unless its vcr_config sets match_on; otherwise only tests that use the "
    "plugin's client or fake-server fixtures (OpenAI's or Anthropic's), or the "
    "openai_cassette, fake_openai or fake_anthropic marker, are."
)
_CASSETTE_MARKER_HELP: Final = (
    f"{CASSETTE_MARKER}: match this test's cassette the OpenAI way (method, path, query, JSON "
    "body; host and port ignored) unless its vcr_config sets match_on (pytest-aiusage)"
)
_CASSETTE: Final = pytest.StashKey[Any]()
"""The test's cassette, in ``item.stash`` (with ``--aiusage-cassette-report``)."""


def pytest_addoption(parser: pytest.Parser) -> None:
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
    config.addinivalue_line("markers", _MARKER)
    config.addinivalue_line("markers", _ANTHROPIC_MARKER)
    config.addinivalue_line("markers", _CASSETTE_MARKER_HELP)
    option = config.getoption("aiusage_cassette_report")
    state = cassette_state(config)
    state.openai_matching = bool(config.getini("aiusage_openai_matching"))
    state.report = bool(config.getini("aiusage_cassette_report")) if option is None else option
    if state.report and not hasattr(config, "workerinput"):
        config.pluginmanager.register(_Reporting(), "aiusage-cassette-report")
    start_recording(config)


def pytest_unconfigure(config: pytest.Config) -> None:
    stop_recording(config)


def pytest_report_header(config: pytest.Config) -> str | None:
    return recording_header(config)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    # Before the fixtures, so before pytest-recording's ``vcr`` fixture configures a VCR.
    state = cassette_state(item.config)
    state.test_wants_openai_matching = wants_openai_matching(item, everywhere=state.openai_matching)


@pytest.hookimpl(tryfirst=True, optionalhook=True)
def pytest_recording_configure(config: pytest.Config, vcr: Any) -> None:
    # tryfirst: our default goes in first, so a conftest's own implementation can change it.
    from ._persister import install

    state = cassette_state(config)
    install(vcr, state, openai_matching=state.test_wants_openai_matching)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if call.when == "setup":
        _watch_cassette(item)
    if report.failed and call.excinfo is not None:
        error = find_replay_error(call.excinfo.value)
        if error is not None:
            report.longrepr = replay_failure_message(item, error)
    if call.when == "teardown":
        cassette = item.stash.get(_CASSETTE, None)
        if cassette is not None:
            payload = cassette_payload(item, cassette, cassette_state(item.config))
            setattr(report, PAYLOAD_ATTR, payload)
    return report


def _watch_cassette(item: pytest.Item) -> None:
    """Once the test's fixtures are set up: keep its cassette (pytest-recording's autouse
    ``vcr`` fixture) scrubbing whatever persister it was given, and remember it for the
    cassette report. Done here, once per test, as it costs less than a fixture would."""
    cassette = (getattr(item, "funcargs", None) or {}).get("vcr")
    if cassette is None:
        return
    from ._persister import guard_cassette

    state = cassette_state(item.config)
    guard_cassette(cassette, state)
    if state.report:
        item.stash[_CASSETTE] = cassette


class _Reporting:
    """On the process that reports (a serial run, or the xdist controller): gathers the
    cassette payloads and prints the section."""

    def __init__(self) -> None:
        self._report = CassetteReport()

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        payload = getattr(report, PAYLOAD_ATTR, None)
        if report.when == "teardown" and payload:
            self._report.add(report.nodeid, payload)

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        terminalreporter.write_sep("=", self._report.title())
        for line in self._report.lines():
            terminalreporter.write_line(line)
