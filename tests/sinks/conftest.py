"""Fixtures for the sink, ledger, spool, CLI and OpenTelemetry tests."""

from __future__ import annotations

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
