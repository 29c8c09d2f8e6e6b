"""A DSN's password is used to log in and never shown: not in logs, errors, spool files,
``repr`` or the ``aiusage`` command's output."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from pg_server import PASSWORD_USER, PostgresServer
from sinks_testing import make_record

from aiusage_core import (
    Ledger,
    LedgerError,
    PostgresSink,
    ai_usage_context,
    configure,
    record_usage,
)
from aiusage_core._cli import main

RIGHT = "correct horse battery"  # the role's password (pg_server.py)
WRONG = "Tr0ub4dor&3-wrong"


def _dsn(server: PostgresServer, password: str) -> str:
    return server.dsn(user=PASSWORD_USER, password=password.replace(" ", "%20").replace("&", "%26"))


def test_the_right_password_logs_in_and_is_never_shown(
    postgres_server: PostgresServer, capsys: pytest.CaptureFixture[str]
) -> None:
    dsn = _dsn(postgres_server, RIGHT)
    postgres_server.admin(f"DROP SCHEMA IF EXISTS {PASSWORD_USER} CASCADE")
    postgres_server.admin(f"CREATE SCHEMA {PASSWORD_USER} AUTHORIZATION {PASSWORD_USER}")
    sink = PostgresSink(dsn)
    sink.write([make_record(input_tokens=5)])
    sink.close()
    for shown in (repr(sink), sink.location, sink.spool_key):
        assert "correct" not in shown
        assert "horse" not in shown
    assert (
        sink.location == f"postgresql://{PASSWORD_USER}@127.0.0.1:{postgres_server.port}/postgres"
    )
    assert main(["report", "--ledger", dsn, "--format", "json"]) == 0
    out = capsys.readouterr().out
    assert '"calls": 1,' in out
    assert '"input_tokens": 5' in out
    assert "horse" not in out
    with Ledger(dsn) as ledger:
        assert "horse" not in repr(ledger)


def test_a_wrong_password_fails_without_showing_it(
    postgres_server: PostgresServer,
    tmp_path: Path,
    spool_dir: Path,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    dsn = _dsn(postgres_server, WRONG)
    sink = PostgresSink(dsn)
    with pytest.raises(LedgerError) as caught:
        sink.check()
    assert "password authentication failed" in str(caught.value)
    caplog.set_level(logging.DEBUG, logger="aiusage")
    with configure(sinks=[sink]), ai_usage_context("job"):
        record_usage(model="gpt-4o-mini", input_tokens=10)
    assert "password authentication failed" in caplog.text  # the warning says why
    (spool,) = spool_dir.glob("postgressink-*.jsonl")
    assert main(["report", "--ledger", dsn]) == 2
    _, err = capsys.readouterr()
    assert err.startswith("aiusage: error: PostgreSQL ledger postgresql://aiusage_pw@127.0.0.1")
    assert main(["ledger", "copy", dsn, str(tmp_path / "copy.db")]) == 2
    _, err_copy = capsys.readouterr()
    for text in (str(caught.value), caplog.text, spool.read_text(), err, err_copy):
        assert "Tr0ub4dor" not in text
        assert "Tr0ub4dor%263" not in text


def test_a_password_is_not_shown_when_the_server_is_unreachable(
    postgres_server: PostgresServer, caplog: pytest.LogCaptureFixture
) -> None:
    dsn = f"postgresql://someone:{WRONG.replace('&', '%26')}@127.0.0.1:1/ledger"
    with pytest.raises(LedgerError) as caught:
        PostgresSink(dsn).check()
    assert "Tr0ub4dor" not in str(caught.value)
    assert str(caught.value).startswith(
        "PostgreSQL ledger postgresql://someone@127.0.0.1:1/ledger:"
    )
