"""Where PostgreSQL cannot be started, the team-ledger tests skip with one reason, except
under ``CI=true``, where they fail: CI must never pass without having run them."""

from __future__ import annotations

from pathlib import Path

import pytest
from pg_server import BINDIR_VARIABLE

_HERE = Path(__file__).parent


def _suite(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    """The real conftest and server helper, two tests that need a ledger, and no server."""
    for name in ("conftest", "pg_server"):
        pytester.makepyfile(**{name: (_HERE / f"{name}.py").read_text()})
    pytester.makepyfile(
        test_ledger="""
        def test_one(postgres_dsn):
            pass

        def test_two(postgres_dsn):
            pass
        """
    )
    monkeypatch.setenv(BINDIR_VARIABLE, str(pytester.path / "no-postgresql-here"))


def test_without_postgresql_the_tests_skip_with_one_reason(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    _suite(pytester, monkeypatch)
    monkeypatch.delenv("CI", raising=False)
    result = pytester.runpytest_subprocess("-rs", "-p", "no:randomly")
    result.assert_outcomes(skipped=2)
    reasons = {line.split(": ", 1)[1] for line in result.outlines if line.startswith("SKIPPED")}
    assert reasons == {
        "PostgreSQL server binaries (initdb, postgres) not found in "
        f"{pytester.path / 'no-postgresql-here'} (${BINDIR_VARIABLE})"
    }
    assert result.ret == 0


@pytest.mark.parametrize("ci", ["true", "1"])
def test_under_ci_a_missing_postgresql_fails_the_tests(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, ci: str
) -> None:
    _suite(pytester, monkeypatch)
    monkeypatch.setenv("CI", ci)
    result = pytester.runpytest_subprocess("-rs")
    result.assert_outcomes(errors=2)
    result.stdout.fnmatch_lines(["*CI must run the PostgreSQL tests: PostgreSQL server binaries*"])
    result.stdout.no_fnmatch_line("*SKIPPED*")
    assert result.ret == 1
