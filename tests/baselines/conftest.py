"""Fixtures of the cost-baseline tests (helpers are in ``baselines_testing``)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from baselines_testing import SUITE


@pytest.fixture
def pytester(
    pytester: pytest.Pytester, write_ini: Callable[[str], None], monkeypatch: pytest.MonkeyPatch
) -> pytest.Pytester:
    """``pytester`` with the inner runs' ini and :data:`SUITE` written, the suite's
    variables unset."""
    for name in ("AIU_SUMMARISE_MODEL", "AIU_SUMMARISE_IN", "AIU_NO_AI_CALLS"):
        monkeypatch.delenv(name, raising=False)
    write_ini()
    pytester.makepyfile(test_suite=SUITE)
    return pytester
