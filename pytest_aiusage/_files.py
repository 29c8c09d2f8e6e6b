"""Writing the files the plugin leaves behind: cassettes, cost baselines and reports."""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from pathlib import Path
from typing import Final

__all__ = ["write_atomically"]

_NEW_FILE_MODE: Final = 0o644
"""The mode of a new file: meant to be committed and read by others."""

_TEMPORARY_STEM: Final = 32
"""How much of the file's name its temporary file's name keeps: enough to tell whose it is,
short enough that a name of the longest length the file system allows (pytest-recording
shortens cassette names to exactly that) still leaves room for the random part and suffix."""


def write_atomically(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so that a reader (another xdist worker writing the same
    file, or a crash) only ever sees the old file or the whole new one: write a temporary
    file in the same directory, flush it to disk, rename it over ``path``, then flush the
    directory, so that the rename itself survives a power cut.

    ``path`` keeps its mode; a new file gets ``0o644`` (``mkstemp`` would make it private).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(
        prefix=f".{path.name[:_TEMPORARY_STEM]}.", suffix=".tmp", dir=path.parent
    )
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        try:
            mode = stat.S_IMODE(path.stat().st_mode)
        except FileNotFoundError:
            mode = _NEW_FILE_MODE
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    _sync_directory(path.parent)


def _sync_directory(directory: Path) -> None:
    """Flush ``directory``'s entries to disk (where the platform can: not on Windows)."""
    try:
        handle = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        # A file system that cannot sync a directory: the rename still happened.
        with contextlib.suppress(OSError):
            os.fsync(handle)
    finally:
        os.close(handle)
