"""Fixtures for the sink, ledger, spool, CLI and OpenTelemetry tests."""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from aiusage_core import _spool, configure


@pytest.fixture(autouse=True)
def _private_spool(tmp_path: Path) -> Iterator[Path]:
    """Spool files go to the test's folder; no sink channel outlives the test."""
    folder = tmp_path / "spool"
    with configure(spool_dir=str(folder)):
        yield folder
        assert _spool.wait_until_idle(10.0)
    _spool._channels.clear()


@pytest.fixture
def spool_dir(_private_spool: Path) -> Path:
    """The folder the spool files of this test go to."""
    return _private_spool


@contextlib.contextmanager
def _tmpfs(folder: Path, size: str) -> Iterator[Path]:
    """A tmpfs of ``size`` mounted on ``folder`` while the block runs (needs root; under
    ``CI`` a failure to mount fails the test, elsewhere it skips it)."""
    folder.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(folder)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        reason = f"cannot mount a tmpfs (needs root): {mounted.stderr.strip()}"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    try:
        yield folder
    finally:
        assert _spool.wait_until_idle(10.0)  # no write still running on it
        subprocess.run(["umount", "-l", str(folder)], check=True)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 64 KiB tmpfs mounted for the test (a real filesystem that fills up)."""
    with _tmpfs(tmp_path / "disk", "64k") as disk:
        yield disk


@pytest.fixture
def remountable(tmp_path: Path) -> Iterator[Path]:
    """A 2 MiB tmpfs mounted for the test, which ``sinks_testing.remount`` makes read-only."""
    with _tmpfs(tmp_path / "ro-disk", "2m") as disk:
        yield disk


@pytest.fixture
def retry_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """A failing sink is retried at the very next flush (no pause after a failure)."""
    monkeypatch.setattr(_spool, "RETRY_FIRST", 0.0)
