"""Scrubbing for every pytest-recording cassette, OpenAI matching where a test asks for it
(imports vcrpy; imported only when a cassette is about to be used).

:func:`install` runs in the plugin's ``pytest_recording_configure`` hook, on the VCR that
pytest-recording makes for each test's cassette, before your own implementations of that
hook. It leaves your configuration as you gave it: it registers the ``openai_*`` matchers
(names only, used where a ``match_on`` names them), wraps the persister in a
:class:`ScrubbingPersister`, and sets :data:`~._matchers.OPENAI_MATCH_ON` as the VCR's
default ``match_on`` only for a test that opted in (:func:`~._state.wants_openai_matching`),
below your ``vcr_config``. The persister is what makes the guarantee hold whatever the
configuration says: it scrubs every cassette right before writing it, after vcrpy's and your
own filters and hooks have run, so no filter of ours ever runs before a hook of yours.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from vcr.persisters.filesystem import CassetteNotFoundError, FilesystemPersister
from vcr.serialize import serialize

from .._files import write_atomically
from ._matchers import OPENAI_MATCH_ON, OPENAI_MATCHERS
from ._scrub import Scrubber
from ._state import CassetteState

__all__ = ["ScrubbingPersister", "guard_cassette", "install"]


def _writes_files(persister: Any) -> bool:
    """Whether ``persister`` saves like vcrpy's own ``FilesystemPersister`` (pytest-recording's
    ``CombinedPersister`` does), so that writing the file ourselves changes nothing else."""
    return getattr(persister, "save_cassette", None) is FilesystemPersister.save_cassette


class ScrubbingPersister:
    """Loads through the persister it wraps; saves scrubbed, atomically.

    A cassette is scrubbed twice: interaction by interaction (secret headers and query
    parameters by name, known secret values anywhere), then the serialised text once more
    for known secrets and key-shaped strings, as a last net. When the wrapped persister is
    not a file persister (your own, say, storing elsewhere), it is handed the scrubbed
    cassette to save its own way.
    """

    def __init__(self, inner: Any, state: CassetteState) -> None:
        self.inner = inner
        self._state = state

    def load_cassette(self, cassette_path: Any, serializer: Any) -> Any:
        """Load through the wrapped persister; for the cassette report, note which file
        each interaction came from."""
        try:
            loaded = self.inner.load_cassette(cassette_path, serializer)
        except BaseException:
            if self._state.report:
                self._state.set_segments(os.fspath(cassette_path), [])
            raise
        if self._state.report:
            self._state.set_segments(
                os.fspath(cassette_path), self._segments(cassette_path, serializer, loaded)
            )
        return loaded

    def _segments(self, cassette_path: Any, serializer: Any, loaded: Any) -> list[tuple[str, int]]:
        main = os.fspath(cassette_path)
        total = len(loaded[0])
        extras = [os.fspath(p) for p in getattr(self.inner, "extra_paths", None) or ()]
        if not extras:
            return [(main, total)]
        segments: list[tuple[str, int]] = []
        for path in dict.fromkeys([main, *extras]):
            try:
                count = len(FilesystemPersister.load_cassette(path, serializer)[0])
            except (CassetteNotFoundError, OSError, ValueError):
                count = 0
            if count:
                segments.append((path, count))
        # Should a file have changed under us, at least the totals stay right.
        return segments if sum(n for _, n in segments) == total else [(main, total)]

    def _relocate(self) -> Callable[[str], str] | None:
        """Under ``--aiusage-record`` from the fake server: its URLs to the real API's, so
        that the cassette is the same whatever the server's port, and replays under
        vcrpy's default matching (scheme, host and port included) against the real API."""
        served_at = self._state.recording_from
        if served_at is None:
            return None
        from ..fake_openai import real_api_url

        return functools.partial(real_api_url, served_at=served_at)

    def save_cassette(self, cassette_path: Any, cassette_dict: Any, serializer: Any) -> None:
        """Scrub ``cassette_dict`` and write it."""
        scrubber = Scrubber(self._state.secrets(), relocate=self._relocate())
        clean = scrubber.cassette(cassette_dict)
        if not _writes_files(self.inner):
            self.inner.save_cassette(cassette_path, clean, serializer=serializer)
            return
        write_atomically(Path(cassette_path), scrubber.text(serialize(clean, serializer)))


def install(vcr: Any, state: CassetteState, *, openai_matching: bool) -> None:
    """Give pytest-recording's ``vcr`` our matchers and scrubbing persister, and, with
    ``openai_matching``, :data:`~._matchers.OPENAI_MATCH_ON` as its default ``match_on``."""
    for name, matcher in OPENAI_MATCHERS.items():
        vcr.register_matcher(name, matcher)
    if openai_matching:
        vcr.match_on = OPENAI_MATCH_ON
    if not isinstance(vcr.persister, ScrubbingPersister):
        vcr.register_persister(ScrubbingPersister(vcr.persister, state))


def guard_cassette(cassette: Any, state: CassetteState) -> None:
    """Wrap the persister of an open cassette in a :class:`ScrubbingPersister` if something
    replaced ours (a ``persister`` in ``vcr_config``, or a later ``pytest_recording_configure``
    that registered its own), so that no configuration can write a secret."""
    # vcrpy keeps a cassette's persister in ``_persister``; there is no public way to reach
    # the one a cassette will save with.
    persister = getattr(cassette, "_persister", None)
    if persister is not None and not isinstance(persister, ScrubbingPersister):
        cassette._persister = ScrubbingPersister(persister, state)
