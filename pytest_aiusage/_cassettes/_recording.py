"""``--aiusage-record``: record a suite's cassettes in one command.

``pytest --aiusage-record`` records the cassettes of the run: it sets pytest-recording's
record mode to ``once`` (record the cassettes that are missing), or to the ``--record-mode``
given on the same command line (``rewrite``: record every cassette again). Unless
``OPENAI_API_KEY`` is set, it also starts a fresh
:class:`~pytest_aiusage.fake_openai.FakeOpenAI` for the run and points every SDK made during
it at that server through the environment (``FakeOpenAI.environment()``: ``OPENAI_BASE_URL``
and a dummy key). So the plugin's client fixtures, and the clients your own code makes with
no arguments, record from the fake server with no key and no cost; with a key, they record
from the live API. Requests recorded from the fake server are written as sent to the real
API (``https://api.openai.com/v1/...``, and ``https://api.anthropic.com/v1/messages`` for
its Anthropic side): the cassettes do not depend on the server's port, and replay under any
matching.

The environment is set on the process that starts the run (the xdist controller, whose
workers inherit it) and restored when the run ends.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

import pytest

from ._state import cassette_state

if TYPE_CHECKING:
    from ..fake_openai import FakeOpenAI

__all__ = ["HELP_RECORD", "Recording", "recording_header", "start_recording", "stop_recording"]

HELP_RECORD = (
    "record the cassettes of this run (@pytest.mark.vcr tests): record mode once (the missing "
    "cassettes), or the --record-mode given on the command line (rewrite: all again); "
    "unless OPENAI_API_KEY is set, the run's OpenAI traffic goes to a fresh local fake "
    "OpenAI server (no key, no cost)."
)
_DEFAULT_MODE: Final = "once"

_RECORDING = pytest.StashKey["Recording"]()
_SERVER_VARIABLE: Final = "AIUSAGE_RECORDING_SERVER"
"""Tells xdist workers the base URL of the controller's fake server."""


@dataclass
class Recording:
    """What ``--aiusage-record`` started for this run."""

    mode: str
    target: str
    """Where the traffic goes, for the report header."""
    server: FakeOpenAI | None = None
    _saved_environment: dict[str, str | None] = field(default_factory=dict)

    def header(self) -> str:
        return f"aiusage: recording cassettes (record mode '{self.mode}') from {self.target}"


def start_recording(config: pytest.Config) -> None:
    """Apply ``--aiusage-record`` (a no-op without it)."""
    if not config.getoption("aiusage_record"):
        return
    if not config.pluginmanager.hasplugin("recording"):
        raise pytest.UsageError(
            "--aiusage-record records cassettes with pytest-recording, which is not active: "
            'pip install "pytest-aiusage[cassettes]" (and do not pass -p no:recording)'
        )
    mode = _DEFAULT_MODE
    if _given_on_command_line(config, "--record-mode"):
        mode = config.option.record_mode
        if mode == "none":
            raise pytest.UsageError("--aiusage-record records: it cannot run --record-mode=none")
    config.option.record_mode = mode
    if hasattr(config, "workerinput"):
        # An xdist worker: the controller set the environment it inherited.
        cassette_state(config).recording_from = os.environ.get(_SERVER_VARIABLE) or None
        return
    if os.environ.get("OPENAI_API_KEY", "").strip():
        recording = Recording(mode, "the live OpenAI API (OPENAI_API_KEY is set)")
    else:
        from ..fake_openai import FakeOpenAI

        server = FakeOpenAI().start()
        recording = Recording(mode, f"the fake OpenAI server at {server.url}", server)
        for name, value in {**server.environment(), _SERVER_VARIABLE: server.url}.items():
            recording._saved_environment[name] = os.environ.get(name)
            os.environ[name] = value
        cassette_state(config).recording_from = server.url
    config.stash[_RECORDING] = recording


def _given_on_command_line(config: pytest.Config, option: str) -> bool:
    """Whether ``option`` is in the command's own arguments (not the ini file's addopts)."""
    return any(
        arg == option or arg.startswith(f"{option}=") for arg in config.invocation_params.args
    )


def recording_header(config: pytest.Config) -> str | None:
    """The report header line of ``--aiusage-record``, or ``None``."""
    recording = config.stash.get(_RECORDING, None)
    return recording.header() if recording is not None else None


def stop_recording(config: pytest.Config) -> None:
    """Stop the server ``--aiusage-record`` started and restore the environment."""
    recording = config.stash.get(_RECORDING, None)
    if recording is None:
        return
    del config.stash[_RECORDING]
    for name, value in recording._saved_environment.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    if recording.server is not None:
        recording.server.stop()
