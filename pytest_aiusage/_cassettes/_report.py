"""``--aiusage-cassette-report``: cassette entries never played, tests whose cassette is missing.

Each test that ran with a cassette describes its use of it (a JSON-ready payload on its
teardown report, like its AI usage), so a serial run and an xdist controller see the same.
An entry counts as played if any test of the run played it; only cassettes the run loaded
are looked at, so the report is meant for a full replay run (``--record-mode=none``). Its
title names the providers the cassettes' requests went to (``OpenAI and Anthropic
cassettes``; see :mod:`._providers`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, Final

import pytest

from .._format import plural
from ._matchers import describe_request
from ._providers import provider_of, title
from ._replay_failure import display_path
from ._state import CassetteState

__all__ = ["PAYLOAD_ATTR", "CassetteReport", "cassette_payload"]

PAYLOAD_ATTR: Final = "aiusage_cassette"
"""The attribute of a teardown report that carries the test's cassette use."""


def cassette_payload(item: pytest.Item, cassette: Any, state: CassetteState) -> dict[str, Any]:
    """What ``item`` did with ``cassette``: which of the interactions loaded from files it
    played, and whether it had no cassette at all (nothing loaded, and no file written by
    the end of the test)."""
    # vcrpy has no public name for the path a cassette is saved to.
    main = os.fspath(getattr(cassette, "_path", ""))
    root = item.config.rootpath
    # Loaded interactions come first in ``cassette.data``, recorded ones after them.
    segments = state.segments(main) or []
    loaded = sum(count for _, count in segments)
    if loaded > len(cassette.data):  # a load hook dropped some: keep the totals right
        loaded = len(cassette.data)
        segments = [(main, loaded)] if loaded else []
    played_indexes = {index for index, times in cassette.play_counts.items() if times}
    files: list[list[Any]] = []
    played: list[list[Any]] = []
    unplayed: list[list[Any]] = []
    index = 0
    for path, count in segments:
        shown = display_path(path, root)
        files.append([shown, count])
        for local in range(count):
            if index in played_indexes:
                played.append([shown, local])
            else:
                unplayed.append([shown, local, describe_request(cassette.data[index][0])])
            index += 1
    providers = {provider_of(request) for request, _ in cassette.data}
    return {
        "cassette": display_path(main, root),
        "providers": sorted(provider.name for provider in providers if provider is not None),
        # A test that replays only shared cassettes (``@pytest.mark.vcr("shared.yaml")``)
        # has no file of its own by design.
        "missing": not loaded and not os.path.isfile(main),
        "files": files,
        "played": played,
        "unplayed": unplayed,
    }


class CassetteReport:
    """The report's figures, gathered from every test's payload (on the reporting process)."""

    def __init__(self) -> None:
        self._files: dict[str, int] = {}
        self._played: set[tuple[str, int]] = set()
        self._unplayed: dict[tuple[str, int], str] = {}
        self._missing: dict[str, str] = {}
        self._providers: set[str] = set()

    def add(self, nodeid: str, payload: Mapping[str, Any]) -> None:
        """Take one test's payload."""
        for path, count in payload.get("files", ()):
            self._files[path] = max(count, self._files.get(path, 0))
        for path, index in payload.get("played", ()):
            self._played.add((path, index))
        for path, index, description in payload.get("unplayed", ()):
            self._unplayed.setdefault((path, index), description)
        if payload.get("missing"):
            self._missing[nodeid] = str(payload.get("cassette", ""))
        self._providers.update(payload.get("providers", ()))

    def title(self) -> str:
        """The section's title: ``OpenAI cassettes``, ``OpenAI and Anthropic cassettes``, or
        ``AI cassettes`` when no request of a known provider was seen."""
        return title(self._providers)

    def lines(self) -> list[str]:
        """The lines of the terminal section."""
        entries = sum(self._files.values())
        stale = sorted(key for key in self._unplayed if key not in self._played)
        head = (
            f"{plural(len(self._files), 'cassette file')} loaded, "
            f"{plural(entries, 'recorded interaction')}"
        )
        if not stale and not self._missing:
            return [f"{head}: every interaction played, no cassette missing"]
        lines = [f"{head}, {len(stale)} never played:" if stale else f"{head}, all played"]
        lines.extend(
            f"  {path}, interaction {index + 1} of {self._files.get(path, index + 1)}: "
            f"{self._unplayed[(path, index)]}"
            for path, index in stale
        )
        if self._missing:
            lines.append(f"tests whose cassette is missing ({len(self._missing)}):")
            lines.extend(
                f"  {nodeid}: {cassette}" for nodeid, cassette in sorted(self._missing.items())
            )
        return lines
