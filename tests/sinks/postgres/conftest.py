"""A real PostgreSQL server for the team-ledger tests: one per test session (per xdist
worker), started on loopback, and one new database per test.

Without PostgreSQL's binaries the tests skip with one reason; under ``CI=true`` a server
that cannot start fails them instead (CI installs the package: ``.ci/run``).
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator

import pytest
from pg_server import PostgresServer, Unavailable

_numbers = itertools.count(1)


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """The session's PostgreSQL server."""
    try:
        server = PostgresServer()
    except Unavailable as exc:
        if _in_ci():
            pytest.fail(f"CI must run the PostgreSQL tests: {exc}")
        pytest.skip(str(exc))
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def postgres_dsn(postgres_server: PostgresServer) -> str:
    """The DSN of a new, empty ledger for this test: a schema of its own (a database of its
    own takes a second to create, a schema a few milliseconds)."""
    return postgres_server.create_schema(f"test_{next(_numbers)}")
