"""A readable failure for a request a cassette cannot answer.

vcrpy raises ``CannotOverwriteExistingCassetteException`` inside the HTTP transport; the
OpenAI SDK lets it through or wraps it (``APIConnectionError`` from it), and the code under
test may wrap it again. The plugin finds it in the exception chain of a failed test and
replaces the report with this message::

    No OpenAI cassette for this test: the cassette does not exist (record mode 'none').
      cassette: tests/cassettes/test_labels/test_label.yaml
      request:  POST /v1/chat/completions (model=gpt-4o-mini, "Label this receipt")
      record it: OPENAI_API_KEY=sk-... pytest --record-mode=once tests/test_labels.py::test_label
"""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path
from typing import Any, Final

import pytest

from ._matchers import describe_request

__all__ = ["FAKE_MARKER", "display_path", "find_replay_error", "replay_failure_message"]

FAKE_MARKER: Final = "fake_openai"
"""The marker that points the client fixtures at the fake server (no key needed)."""

_MAX_DIFFERENCES: Final = 3


def find_replay_error(exc: BaseException) -> Any | None:
    """The vcrpy "cannot play back" error in ``exc``'s chain (causes, contexts, exception
    groups), or ``None``."""
    errors = sys.modules.get("vcr.errors")
    if errors is None:  # vcrpy never loaded, so no cassette can have failed
        return None
    wanted: type[BaseException] = errors.CannotOverwriteExistingCassetteException
    missing_metadata: type[BaseException] = errors.MissingMetadataError
    pending: list[BaseException] = [exc]
    seen: set[int] = set()
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, wanted) and not isinstance(current, missing_metadata):
            return current
        # An exception group (asyncio.TaskGroup); duck-typed, as Python 3.10 has none.
        grouped = getattr(current, "exceptions", None)
        if isinstance(grouped, tuple):
            pending.extend(e for e in grouped if isinstance(e, BaseException))
        for linked in (current.__cause__, current.__context__):
            if linked is not None:
                pending.append(linked)
    return None


def display_path(path: str | os.PathLike[str], root: Path) -> str:
    """``path`` relative to ``root`` when it is inside it."""
    resolved = Path(path)
    try:
        return str(resolved.relative_to(root))
    except ValueError:
        try:
            return str(resolved.resolve().relative_to(root.resolve()))
        except (ValueError, OSError):
            return str(path)


def _problem(reason: str, exists: bool, mode: str) -> str:
    if reason == "cassette_not_found":
        state = "could not be loaded" if exists else "does not exist"
        return f"No OpenAI cassette for this test: the cassette {state} (record mode '{mode}')."
    if reason == "already_played":
        return (
            "The OpenAI cassette has no more answers for this request: the test makes it more "
            f"often than when the cassette was recorded (record mode '{mode}')."
        )
    if reason == "no_match":
        return f"No recorded OpenAI request matches this one (record mode '{mode}')."
    return f"The OpenAI cassette has nothing like this request (record mode '{mode}')."


def replay_failure_message(item: pytest.Item, error: Any) -> str:
    """The report text for ``error`` (a ``CannotOverwriteExistingCassetteException``)."""
    cassette = error.cassette
    path = getattr(cassette, "_path", "?")
    mode = str(getattr(cassette.record_mode, "value", cassette.record_mode))
    reason = str(getattr(error, "reason", "no_match"))
    exists = os.path.isfile(path)
    lines = [
        _problem(reason, exists, mode),
        f"  cassette: {display_path(path, item.config.rootpath)}",
        f"  request:  {describe_request(error.failed_request)}",
    ]
    similar = getattr(error, "similar_requests", None) or []
    if reason == "no_match" and similar:
        recorded, _matched, failed = similar[0]
        lines.append(f"  closest recorded: {describe_request(recorded)}")
        for name, message in failed[:_MAX_DIFFERENCES]:
            first = (message or "").strip().splitlines()
            lines.append(f"    {name} differs" + (f": {first[0]}" if first else ""))
    key = "" if item.get_closest_marker(FAKE_MARKER) else "OPENAI_API_KEY=sk-... "
    nodeid = shlex.quote(item.nodeid)
    if reason == "cassette_not_found" and not exists:
        lines.append(f"  record it: {key}pytest --record-mode=once {nodeid}")
    else:
        lines.append(
            f"  re-record it (replaces the cassette): {key}pytest --record-mode=rewrite {nodeid}"
        )
    return "\n".join(lines)
