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

from .._names import FAKE_MARKER
from ._matchers import describe_request
from ._providers import provider_of
from ._scrub import Scrubber
from ._state import cassette_state

__all__ = ["FAKE_MARKER", "display_path", "find_replay_error", "replay_failure_message"]


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


def _extra_paths(cassette: Any, path: str) -> list[str]:
    """The other cassette files a test reads (``@pytest.mark.vcr("shared.yaml")``:
    pytest-recording's persister loads them with the test's own), as absolute paths."""
    # vcrpy keeps a cassette's persister in ``_persister``; ours wraps pytest-recording's.
    persister = getattr(cassette, "_persister", None)
    inner = getattr(persister, "inner", persister)
    extras = getattr(inner, "extra_paths", None) or ()
    own = os.path.abspath(path)
    return [p for p in dict.fromkeys(os.path.abspath(os.fspath(e)) for e in extras) if p != own]


def _holder(cassette: Any, recorded: Any, paths: list[str]) -> str | None:
    """The file among ``paths`` (in the order they were loaded) that holds ``recorded``."""
    from vcr.persisters.filesystem import CassetteNotFoundError, FilesystemPersister

    requests = getattr(cassette, "requests", [])
    index = next((i for i, r in enumerate(requests) if r is recorded), None)
    if index is None:
        return None
    serializer = getattr(cassette, "_serializer", None)
    seen = 0
    for candidate in dict.fromkeys(os.path.abspath(p) for p in paths):
        try:
            seen += len(FilesystemPersister.load_cassette(candidate, serializer)[0])
        except (CassetteNotFoundError, OSError, ValueError):
            continue
        if index < seen:
            return candidate
    return None


def replay_failure_message(item: pytest.Item, error: Any) -> str:
    """The report text for ``error`` (a ``CannotOverwriteExistingCassetteException``)."""
    cassette = error.cassette
    path = getattr(cassette, "_path", "?")
    mode = str(getattr(cassette.record_mode, "value", cassette.record_mode))
    reason = str(getattr(error, "reason", "no_match"))
    exists = os.path.isfile(path)
    root = item.config.rootpath
    extras = _extra_paths(cassette, path)
    provider = provider_of(error.failed_request)
    lines = [
        _problem(
            reason,
            exists or any(map(os.path.isfile, extras)),
            mode,
            f"{provider.name} " if provider else "",
        )
    ]
    if extras:
        # @pytest.mark.vcr("shared.yaml"): the recordings are read from these files too, and
        # what is recorded goes to the test's own cassette.
        state = "" if exists else " (does not exist; new recordings are written here)"
        lines.append(f"  cassette: {display_path(path, root)}{state}")
        for extra in extras:
            missing = "" if os.path.isfile(extra) else " (does not exist)"
            lines.append(f"  also read: {display_path(extra, root)}{missing} (@pytest.mark.vcr)")
    else:
        lines.append(f"  cassette: {display_path(path, root)}")
    lines.append(f"  request:  {describe_request(error.failed_request)}")
    similar = getattr(error, "similar_requests", None) or []
    if reason == "no_match" and similar:
        recorded, _matched, failed = similar[0]
        holder = _holder(cassette, recorded, [path, *extras]) if extras else None
        where = f" (in {display_path(holder, root)})" if holder else ""
        lines.append(f"  closest recorded{where}: {describe_request(recorded)}")
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
    elif extras:
        lines.append(
            "  record it (into the test's own cassette; the files it also reads are left as "
            f"they are): {key}pytest --record-mode=rewrite {nodeid}"
        )
    else:
        lines.append(
            f"  re-record it (replaces the cassette): {key}pytest --record-mode=rewrite {nodeid}"
        )
    # The live request may hold a configured key (in a prompt, a URL) that no pattern knows:
    # the message goes to CI logs, so it is scrubbed like a cassette.
    return Scrubber(cassette_state(item.config).secrets()).text("\n".join(lines))
