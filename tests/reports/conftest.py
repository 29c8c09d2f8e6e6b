"""Shared pieces of the report tests (HTML, Markdown, pytest-html, figures across outputs)."""

from __future__ import annotations

from collections.abc import Callable

import pytest


@pytest.fixture
def pytester(
    pytester: pytest.Pytester, write_ini: Callable[[str], None], monkeypatch: pytest.MonkeyPatch
) -> pytest.Pytester:
    """``pytester`` with the inner runs' ini written and no CI job summary of our own CI's
    leaking into the inner runs."""
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    write_ini()
    return pytester
