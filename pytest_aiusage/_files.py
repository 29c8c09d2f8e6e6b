"""Writing the files the plugin leaves in a repository: cassettes and cost baselines."""

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


def write_atomically(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so that a reader (another xdist worker writing the same
    file, or a crash) only ever sees the old file or the whole new one: write a temporary
    file in the same directory, flush it to disk, then rename it over ``path``.

    ``path`` keeps its mode; a new file gets ``0o644`` (``mkstemp`` would make it private).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(
        prefix=f".{path.name}.", suffix=".tmp", dir=path.parent
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
