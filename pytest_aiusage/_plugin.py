"""The pytest plugin (entry point ``aiusage``; ``-p no:aiusage`` disables it).

Only hook implementations live here; each hands over to the module that does the work. Its
options, ini keys and markers are registered by ``_names`` (entry point ``aiusage_names``),
which ``-p no:aiusage`` leaves on, so a suite that uses them still runs under
``--strict-markers`` and ``--strict-config`` with the plugin off.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import pytest

from aiusage_core._money import cost_text
from aiusage_core._render import escape

from . import _hooks, _names
from ._baseline import register_baselines
from ._fixture import ai_usage
from ._options import read_options
from ._report import summary_lines, write_summary
from ._session import STATE, SessionState, state_of
from ._xdist import worker_leftovers

__all__ = ["ai_usage"]

# OpenAI cassettes (on pytest-recording) and the client fixtures: a plugin module of their own,
# loaded with this one (and so off with -p no:aiusage too).
pytest_plugins = ["pytest_aiusage._cassettes._plugin"]


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    pluginmanager.add_hookspecs(_hooks)
    # Loaded without its entry point (``-p pytest_aiusage._plugin``, autoloading off): the
    # names come with the plugin.
    if not pluginmanager.is_registered(_names):
        pluginmanager.register(_names, "aiusage_names")


def pytest_configure(config: pytest.Config) -> None:
    state = SessionState(config, read_options(config))
    config.stash[STATE] = state
    state.start()
    config.pluginmanager.register(_Attempts(state), "aiusage-attempts")
    if not state.worker:
        config.pluginmanager.register(_Reporting(state), "aiusage-reporting")
        register_baselines(config, state.snapshot)


def pytest_unconfigure(config: pytest.Config) -> None:
    state = config.stash.get(STATE, None)
    if state is not None:
        state.stop()


def pytest_sessionstart(session: pytest.Session) -> None:
    state_of(session.config).session = session


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_protocol(
    item: pytest.Item, nextitem: pytest.Item | None
) -> Generator[None, object, object]:
    state = state_of(item.config)
    state.open_test(item)
    try:
        return (yield)
    except BaseException:
        state.interrupt_test(item)  # Ctrl-C: the test never reached its teardown report
        raise
    finally:
        state.close_test(item)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    state = state_of(item.config)
    state.ensure_attempt(item)
    state.resolve_budget(item)


@pytest.hookimpl(wrapper=True)
def pytest_fixture_setup(
    fixturedef: pytest.FixtureDef[Any], request: pytest.FixtureRequest
) -> Generator[None, object, object]:
    if fixturedef.scope == "function":
        return (yield)
    state = state_of(request.config)
    detached = state.open_fixture(fixturedef, "setup")
    try:
        result = yield
    finally:
        state.close_fixture(fixturedef, "setup", detached)
    state.watch_teardown(fixturedef)
    return result


def pytest_fixture_post_finalizer(
    fixturedef: pytest.FixtureDef[Any], request: pytest.FixtureRequest
) -> None:
    state_of(request.config).fixture_finalized(fixturedef)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    # A test that passed but went over its budget fails *here*, as an exception of the call
    # phase, so pytest treats it like any failure: ``xfail`` can expect it, ``--pdb`` and
    # ``-x`` see it. (Usage in teardown, or on top of a failure, is judged in makereport.)
    yield
    state_of(item.config).fail_call_if_over(item)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    state = state_of(item.config)
    if call.when == "teardown":
        state.finish_test(item)
    report = yield
    state.judge(item, report)
    return report


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    state_of(session.config).finish_session(session)


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, exitstatus: int, config: pytest.Config
) -> None:
    state = state_of(config)
    if state.worker:
        return
    usage = state.snapshot()
    write_summary(
        terminalreporter,
        summary_lines(
            usage,
            top=state.options.top,
            strict=state.options.strict,
            verbose=config.getoption("verbose") > 0,
            warnings=state.warnings,
            stop_message=state.stop_message,
            json_path=state.options.json_path,
            json_error=state.json_error,
            written=state.written,
        ),
    )
    config.hook.pytest_aiusage_summary(
        terminalreporter=terminalreporter, usage=usage, config=config
    )


class _Attempts:
    """Starts each run of a test in a usage context of its own: ``pytest_runtest_logstart``
    (which gets no ``config``) marks the start of every attempt, also under
    pytest-rerunfailures, which runs the setup, call and teardown again in one protocol."""

    def __init__(self, state: SessionState) -> None:
        self._state = state

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_logstart(self, nodeid: str, location: object) -> None:
        item = self._state.current
        if item is not None and item.nodeid == nodeid:
            self._state.start_attempt(item)


class _Reporting:
    """Hooks of the process that reports (a serial run, or the xdist controller); they get
    no ``config`` argument, so they are bound to the session's state."""

    def __init__(self, state: SessionState) -> None:
        self._state = state

    # First, so that other plugins reporting on the teardown (pytest-html) find the usage.
    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when == "teardown":
            self._state.collect_report(report)

    @pytest.hookimpl(optionalhook=True)
    def pytest_html_results_table_header(self, cells: list[str]) -> None:
        # pytest-html's report gains a sortable "AI cost" column after the test id.
        cells.insert(2, '<th class="sortable" data-column-type="aicost">AI cost</th>')

    @pytest.hookimpl(optionalhook=True)
    def pytest_html_results_table_row(self, report: pytest.TestReport, cells: list[str]) -> None:
        usage = self._state.test_usage(report.nodeid)
        text = cost_text(usage.totals) if usage is not None else ""
        cells.insert(2, f'<td class="col-aicost">{escape(text)}</td>')

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: object) -> None:
        payload = worker_leftovers(node)
        if payload:
            self._state.collect_payload(payload)
