"""What the cassette side of the plugin remembers during one session (in ``config.stash``).

Kept apart from the modules that import vcrpy, so that the fixtures and hooks that only need
this state cost nothing in a run that never opens a cassette.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Final

import pytest

__all__ = [
    "CASSETTES",
    "MIN_SECRET_LENGTH",
    "SECRET_ENV_VARS",
    "CassetteState",
    "cassette_state",
]

SECRET_ENV_VARS: Final = (
    "OPENAI_API_KEY",
    "OPENAI_ADMIN_KEY",
    "AZURE_OPENAI_API_KEY",
    "AZURE_OPENAI_AD_TOKEN",
    "ANTHROPIC_API_KEY",
    "ANTHROPIC_AUTH_TOKEN",
)
"""Environment variables whose values are secrets wherever they appear in a cassette."""

MIN_SECRET_LENGTH: Final = 8
"""Shorter values are not searched for in bodies and URLs (a key ``"test"`` would otherwise
redact every "test" in every prompt); where they stand in a secret header or query parameter
they are still replaced."""


@dataclass
class CassetteState:
    """The session's cassette settings and what the fixtures told the scrubber."""

    report: bool = False
    """Whether ``--aiusage-cassette-report`` is on (then each test's cassette use travels on
    its teardown report)."""
    openai_matching: bool = False
    """Whether the ``aiusage_openai_matching`` ini switch is on (every cassette of the run
    is matched the OpenAI way)."""
    test_wants_openai_matching: bool = False
    """Whether the test being set up opted in to OpenAI matching (set at its setup, read
    when pytest-recording configures its VCR)."""
    recording_from: str | None = None
    """The base URL of the fake server ``--aiusage-record`` records from: requests sent to it
    are written as sent to the real API."""
    _secrets: set[str] = field(default_factory=set)
    _segments: dict[str, list[tuple[str, int]]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add_secret(self, value: str | None) -> None:
        """Scrub ``value`` from every cassette written from now on (e.g. a fixture's key)."""
        if value and len(value) >= MIN_SECRET_LENGTH:
            with self._lock:
                self._secrets.add(value)

    def secrets(self) -> set[str]:
        """The values to scrub now: those added, and the current values of
        :data:`SECRET_ENV_VARS` (read at each write, so a key set mid-session counts)."""
        from_env = (os.environ.get(name, "").strip() for name in SECRET_ENV_VARS)
        with self._lock:
            found = set(self._secrets)
        found.update(value for value in from_env if len(value) >= MIN_SECRET_LENGTH)
        return found

    def set_segments(self, cassette_path: str, segments: Iterable[tuple[str, int]]) -> None:
        """Remember which files a loaded cassette's interactions came from, in order."""
        self._segments[cassette_path] = list(segments)

    def segments(self, cassette_path: str) -> list[tuple[str, int]] | None:
        """``[(file, number of interactions), ...]`` of the cassette last loaded from
        ``cassette_path``, or ``None`` if it was not loaded through our persister."""
        return self._segments.get(cassette_path)


CASSETTES = pytest.StashKey[CassetteState]()
"""The session's :class:`CassetteState`, in ``config.stash``."""


def cassette_state(config: pytest.Config) -> CassetteState:
    """The session's :class:`CassetteState` (made on first use)."""
    state = config.stash.get(CASSETTES, None)
    if state is None:
        state = config.stash[CASSETTES] = CassetteState()
    return state
