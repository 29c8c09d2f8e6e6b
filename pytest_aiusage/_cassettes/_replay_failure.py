"""A readable failure for a request a cassette cannot answer.

vcrpy raises ``CannotOverwriteExistingCassetteException`` inside the HTTP transport; the
provider's SDK lets it through or wraps it (``APIConnectionError`` from it), and the code
under test may wrap it again. The plugin finds it in the exception chain of a failed test and
replaces the report with this message, naming the provider the request was for (by its host
or path, :mod:`._providers`) and the key variable to record it with::

    No OpenAI cassette for this test: the cassette does not exist (record mode 'none').
      cassette: tests/cassettes/test_labels/test_label.yaml
      request:  POST /v1/chat/completions (model=gpt-4o-mini, "Label this receipt")
      record it: OPENAI_API_KEY=sk-... pytest --record-mode=once tests/test_labels.py::test_label

A request to no known provider gets the same message without a provider's name or key.
"""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path
from typing import Any, Final

import pytest

from ._matchers import describe_request
from ._providers import OPENAI, provider_of
from ._scrub import Scrubber
from ._state import cassette_state

__all__ = ["FAKE_MARKER", "display_path", "find_replay_error", "replay_failure_message"]

FAKE_MARKER: Final = OPENAI.fake_marker
"""The marker that points the OpenAI client fixtures at the fake server (no key needed);
``fake_anthropic`` does for the Anthropic ones."""

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


def _problem(reason: str, exists: bool, mode: str, provider: str) -> str:
    """The first line; ``provider`` is the provider's name and a space, or ``""``."""
    if reason == "cassette_not_found":
        state = "could not be loaded" if exists else "does not exist"
        return f"No {provider}cassette for this test: the cassette {state} (record mode '{mode}')."
    if reason == "already_played":
        return (
            f"The {provider}cassette has no more answers for this request: the test makes it "
            f"more often than when the cassette was recorded (record mode '{mode}')."
        )
    if reason == "no_match":
        return f"No recorded {provider}request matches this one (record mode '{mode}')."
    return f"The {provider}cassette has nothing like this request (record mode '{mode}')."


def replay_failure_message(item: pytest.Item, error: Any) -> str:
    """The report text for ``error`` (a ``CannotOverwriteExistingCassetteException``)."""
    cassette = error.cassette
    path = getattr(cassette, "_path", "?")
    mode = str(getattr(cassette.record_mode, "value", cassette.record_mode))
    reason = str(getattr(error, "reason", "no_match"))
    exists = os.path.isfile(path)
    provider = provider_of(error.failed_request)
    lines = [
        _problem(reason, exists, mode, f"{provider.name} " if provider else ""),
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
    key = (
        f"{provider.key_variable}={provider.key_shape} "
        if provider is not None and not item.get_closest_marker(provider.fake_marker)
        else ""
    )
    nodeid = shlex.quote(item.nodeid)
    if reason == "cassette_not_found" and not exists:
        lines.append(f"  record it: {key}pytest --record-mode=once {nodeid}")
    else:
        lines.append(
            f"  re-record it (replaces the cassette): {key}pytest --record-mode=rewrite {nodeid}"
        )
    # The live request may hold a configured key (in a prompt, a URL) that no pattern knows:
    # the message goes to CI logs, so it is scrubbed like a cassette.
    return Scrubber(cassette_state(item.config).secrets()).text("\n".join(lines))
