"""SQLiteSink: an exact, deduplicating, versioned ledger that several writers share."""

from __future__ import annotations

import sqlite3
import threading
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from sinks_testing import make_record, python_env, run_python

from aiusage_core import (
    ErrorInfo,
    Ledger,
    LedgerError,
    SchemaVersionError,
    SQLiteSink,
    _sqlite,
    ai_usage_context,
    configure,
    record_usage,
)
from aiusage_core._counts import COUNT_NAMES


def test_every_field_round_trips_exactly(tmp_path: Path) -> None:
    records = [
        make_record(
            model="gpt-4o",
            provider="azure",
            api="responses",
            input_tokens=1200,
            cached_input_tokens=1024,
            cache_write_tokens=3,
            output_tokens=300,
            reasoning_tokens=128,
            input_audio_tokens=7,
            output_audio_tokens=9,
            cost_usd=Decimal("0.0012345678901234567890123456"),
            metadata={"job_id": "job-7", "tags": {"team": "ocr", "n": [1, 2]}, "ok": True},
            context_path=("batch", "page"),
            error=ErrorInfo("RateLimitError", "slow down"),
            latency_ms=812.5,
            usage_status="reported",
            batch=True,
            service_tier="flex",
            request_id="req_123",
            # not UTC: stored as the same instant in UTC
            when=datetime(2026, 11, 2, 1, 30, tzinfo=timezone(timedelta(hours=2))),
        ),
        make_record(model="mystery", cost_usd=None, usage_status="missing"),
        make_record(cost_usd=Decimal("1E-12")),
    ]
    sink = SQLiteSink(tmp_path / "ledger.db")
    sink.write(records)
    sink.close()
    with Ledger(tmp_path / "ledger.db") as ledger:
        back = list(ledger.records())
        rows = list(ledger.rows())
    assert back == records
    assert back[0].timestamp.utcoffset() == timedelta(0)
    assert rows[0]["timestamp"] == "2026-11-01T23:30:00.000000+00:00"
    assert rows[2]["cost_usd"] == "0.000000000001"  # plain decimal text, never 1E-12


def test_columns_hold_the_innermost_operation_and_the_utc_day(tmp_path: Path) -> None:
    sink = SQLiteSink(tmp_path / "l.db")
    sink.write(
        [
            make_record(
                context_path=("nightly", "ocr"),
                when=datetime(2026, 11, 30, 23, 59, 59, 999999, tzinfo=timezone.utc),
            )
        ]
    )
    conn = sqlite3.connect(tmp_path / "l.db")
    row = conn.execute(
        "SELECT operation_type, day, context_path, cost_usd, metadata FROM usage_records"
    ).fetchone()
    conn.close()
    # 1000 x $0.15/MTok + 200 x $0.60/MTok
    assert row == ("ocr", "2026-11-30", '["nightly","ocr"]', "0.00027", "{}")


def test_a_record_written_twice_is_stored_once(tmp_path: Path) -> None:
    sink = SQLiteSink(tmp_path / "l.db")
    first, second = make_record(input_tokens=1), make_record(input_tokens=2)
    sink.write([first])
    sink.write([first, second])  # a retry that repeats an already stored record
    with Ledger(tmp_path / "l.db") as ledger:
        assert ledger.count() == 2
        assert ledger.report(()).totals.input_tokens == 3


@pytest.mark.parametrize(("synchronous", "level"), [("NORMAL", 1), ("FULL", 2)])
def test_ledger_is_in_wal_mode_with_the_chosen_synchronous_level(
    tmp_path: Path, synchronous: str, level: int
) -> None:
    sink = SQLiteSink(tmp_path / "l.db", synchronous=synchronous)  # type: ignore[arg-type]
    sink.write([make_record()])
    conn = sink._db.current()
    assert conn is not None
    assert conn.execute("PRAGMA synchronous").fetchone() == (level,)
    conn = sqlite3.connect(tmp_path / "l.db")
    assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    conn.close()


def test_a_new_ledger_has_every_schema_version_and_a_column_per_count(tmp_path: Path) -> None:
    SQLiteSink(tmp_path / "l.db").check()
    conn = sqlite3.connect(tmp_path / "l.db")
    assert conn.execute("SELECT version FROM schema_version").fetchall() == [(1,), (2,)]
    columns = [r[1] for r in conn.execute("PRAGMA table_info(usage_records)")]
    indexes = {r[1] for r in conn.execute("PRAGMA index_list(usage_records)")}
    conn.close()
    assert sorted(columns) == sorted(_sqlite.COLUMNS)
    assert set(COUNT_NAMES) <= set(columns)
    assert "usage_records_timestamp" in indexes


def test_a_version_1_ledger_is_migrated_and_its_records_read_with_the_new_counts_at_0(
    tmp_path: Path,
) -> None:
    path = tmp_path / "v1.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE schema_version (version INTEGER PRIMARY KEY, applied_at TEXT)")
    _sqlite.MIGRATIONS[1](conn)
    conn.execute("INSERT INTO schema_version (version) VALUES (1)")
    v1_counts = (100, 40, 10, 20, 5, 3, 2)  # input, cached, cache write, output, reasoning, audio
    conn.execute(
        "INSERT INTO usage_records (record_id, timestamp, day, model, provider, api, "
        "context_path, input_tokens, cached_input_tokens, cache_write_tokens, output_tokens, "
        "reasoning_tokens, input_audio_tokens, output_audio_tokens, cost_usd, metadata, "
        "usage_status, batch) VALUES ('r1', '2026-11-01T00:00:00.000000+00:00', '2026-11-01', "
        "'gpt-4o', 'openai', 'chat', '[]', ?, ?, ?, ?, ?, ?, ?, '0.5', '{}', 'reported', 0)",
        v1_counts,
    )
    conn.commit()
    conn.close()
    with Ledger(path) as ledger:
        assert ledger.schema_version == 2
        (record,) = ledger.records()
        report = ledger.report()
    assert (
        record.input_tokens,
        record.cached_input_tokens,
        record.cache_write_tokens,
        record.output_tokens,
        record.reasoning_tokens,
        record.input_audio_tokens,
        record.output_audio_tokens,
    ) == v1_counts
    assert (record.cache_write_1h_tokens, record.web_search_requests) == (0, 0)
    assert report.totals.cache_write_tokens == 10
    assert report.totals.cost_usd == Decimal("0.5")


def _stamp_version(path: Path, version: int) -> None:
    conn = sqlite3.connect(path)
    conn.execute("INSERT INTO schema_version (version) VALUES (?)", (version,))
    conn.commit()
    conn.close()


def test_a_ledger_from_a_newer_aiusage_is_refused_by_writer_and_reader(tmp_path: Path) -> None:
    path = tmp_path / "l.db"
    SQLiteSink(path).check()
    _stamp_version(path, 3)

    with pytest.raises(SchemaVersionError) as caught:
        SQLiteSink(path).check()
    assert (caught.value.found, caught.value.supported) == (3, 2)
    assert caught.value.path == str(path)
    assert str(caught.value) == (
        f"ledger {path} has schema version 3, but this aiusage understands versions up to 2: "
        "upgrade pytest-aiusage to read or write it"
    )
    with pytest.raises(SchemaVersionError, match="schema version 3"):
        Ledger(path)


def test_a_newer_ledger_never_breaks_the_caller_and_its_records_wait_in_the_spool(
    tmp_path: Path, spool_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "l.db"
    SQLiteSink(path).check()
    _stamp_version(path, 3)
    with configure(sinks=[SQLiteSink(path)]), ai_usage_context("job"):
        record_usage(model="gpt-4o-mini", input_tokens=10)
    assert "schema version 3" in caplog.text
    (spool,) = spool_dir.glob("sqlitesink-*.jsonl")
    assert str(spool) in caplog.text
    assert '"input_tokens":10' in spool.read_text()


def test_migrations_bring_an_old_ledger_to_the_current_version_keeping_records(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "l.db"
    SQLiteSink(path).write([make_record(input_tokens=42)])

    def add_team_column(conn: sqlite3.Connection) -> None:
        conn.execute("ALTER TABLE usage_records ADD COLUMN team TEXT")

    monkeypatch.setitem(_sqlite.MIGRATIONS, 3, add_team_column)
    assert _sqlite.current_schema_version() == 3
    with Ledger(path) as ledger:  # reading an old ledger migrates it once
        assert ledger.schema_version == 3
        assert [r.input_tokens for r in ledger.records()] == [42]
    conn = sqlite3.connect(path)
    versions = [v for (v,) in conn.execute("SELECT version FROM schema_version ORDER BY 1")]
    assert versions == [1, 2, 3]
    assert "team" in [r[1] for r in conn.execute("PRAGMA table_info(usage_records)")]
    conn.close()


def test_a_failing_migration_leaves_the_ledger_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "l.db"
    SQLiteSink(path).check()

    def broken(conn: sqlite3.Connection) -> None:
        conn.execute("ALTER TABLE usage_records ADD COLUMN team TEXT")
        raise RuntimeError("migration bug")

    monkeypatch.setitem(_sqlite.MIGRATIONS, 3, broken)
    with pytest.raises(RuntimeError, match="migration bug"):
        SQLiteSink(path).check()
    monkeypatch.delitem(_sqlite.MIGRATIONS, 3)
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT MAX(version) FROM schema_version").fetchone() == (2,)
    assert "team" not in [r[1] for r in conn.execute("PRAGMA table_info(usage_records)")]
    conn.close()


def test_an_sqlite_file_that_is_not_a_ledger_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE customers (id INTEGER)")
    conn.commit()
    conn.close()
    with pytest.raises(LedgerError, match="not an aiusage ledger"):
        SQLiteSink(path).check()
    with pytest.raises(LedgerError, match="not an aiusage ledger"):
        Ledger(path)


def test_bad_synchronous_setting_is_refused_at_once(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="'NORMAL' or 'FULL', not 'OFF'"):
        SQLiteSink(tmp_path / "l.db", synchronous="OFF")  # type: ignore[arg-type]


def test_threads_sharing_one_sink_store_every_record(tmp_path: Path) -> None:
    sink = SQLiteSink(tmp_path / "l.db")
    start = threading.Barrier(8)

    def writer(n: int) -> None:
        start.wait()
        for i in range(25):
            sink.write([make_record(input_tokens=n * 100 + i) for _ in range(4)])

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with Ledger(tmp_path / "l.db") as ledger:
        assert ledger.count() == 800
        assert ledger.report(()).totals.input_tokens == 4 * sum(
            n * 100 + i for n in range(8) for i in range(25)
        )


def test_aiusage_ledger_environment_variable_configures_a_process_wide_ledger(
    tmp_path: Path,
) -> None:
    path = tmp_path / "env" / "ledger.db"
    run_python(
        """
        from aiusage_core import SQLiteSink, ai_usage_context, record_usage, settings
        (sink,) = settings().sinks
        assert isinstance(sink, SQLiteSink), sink
        with ai_usage_context("nightly", job_id="job-9"):
            record_usage(model="gpt-4o-mini", input_tokens=1000, output_tokens=200)
        record_usage(model="gpt-4o-mini", input_tokens=1)  # outside any context: at exit
        """,
        env=python_env(AIUSAGE_LEDGER=str(path)),
    )
    with Ledger(path) as ledger:
        records = list(ledger.records())
    assert [(r.context_path, r.input_tokens) for r in records] == [(("nightly",), 1000), ((), 1)]
    assert records[0].cost_usd == Decimal("0.00027")  # 1000 x $0.15/MTok + 200 x $0.60/MTok
    assert records[0].metadata["job_id"] == "job-9"


def test_without_configuration_nothing_is_written_anywhere(tmp_path: Path) -> None:
    out = run_python(
        f"""
        import os
        os.chdir({str(tmp_path)!r})
        from aiusage_core import ai_usage_context, record_usage, settings
        with ai_usage_context("job"):
            record_usage(model="gpt-4o-mini", input_tokens=5)
        print(len(settings().sinks), sorted(os.listdir(".")))
        """
    )
    assert out.split() == ["0", "[]"]


_COUNTS_1 = (
    "input_tokens",
    "cached_input_tokens",
    "cache_write_tokens",
    "output_tokens",
    "reasoning_tokens",
    "input_audio_tokens",
    "output_audio_tokens",
)
RELEASED_SQLITE_SCHEMAS: dict[int, tuple[str, ...]] = {
    1: (
        "record_id TEXT PRIMARY KEY",
        "timestamp TEXT NOT NULL",
        "day TEXT NOT NULL",
        "model TEXT NOT NULL",
        "provider TEXT NOT NULL",
        "api TEXT NOT NULL",
        "operation_type TEXT",
        "context_path TEXT NOT NULL",
        *(f"{name} INTEGER NOT NULL" for name in _COUNTS_1),
        "cost_usd TEXT",
        "metadata TEXT NOT NULL",
        "error_type TEXT",
        "error_message TEXT",
        "latency_ms REAL",
        "usage_status TEXT NOT NULL",
        "batch INTEGER NOT NULL",
        "service_tier TEXT",
        "request_id TEXT",
        "INDEX usage_records_timestamp ON usage_records (timestamp)",
    ),
    2: (
        "cache_write_1h_tokens INTEGER NOT NULL DEFAULT 0",
        "web_search_requests INTEGER NOT NULL DEFAULT 0",
    ),
}
"""What each released migration adds, frozen: a ledger an older aiusage wrote must keep
meaning what it meant. A schema change is the next number, never an edit of these."""


def _sqlite_schema(conn: sqlite3.Connection) -> list[str]:
    columns = [
        " ".join(
            [name, kind]
            + (["PRIMARY KEY"] if pk else [])
            + (["NOT NULL"] if notnull else [])
            + ([f"DEFAULT {default}"] if default is not None else [])
        )
        for _, name, kind, notnull, default, pk in conn.execute("PRAGMA table_info(usage_records)")
    ]
    indexes = [
        sql.removeprefix("CREATE ")
        for (sql,) in conn.execute(
            "SELECT sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL ORDER BY name"
        )
    ]
    return columns + indexes


@pytest.mark.parametrize("version", sorted(RELEASED_SQLITE_SCHEMAS))
def test_released_migrations_are_never_changed(version: int) -> None:
    conn = sqlite3.connect(":memory:")
    for step in range(1, version + 1):
        _sqlite.MIGRATIONS[step](conn)
    expected = [c for v in range(1, version + 1) for c in RELEASED_SQLITE_SCHEMAS[v]]
    assert sorted(_sqlite_schema(conn)) == sorted(expected), (
        f"migration {version} of the SQLite ledger changed: add the next number instead"
    )
    conn.close()
    assert set(RELEASED_SQLITE_SCHEMAS) <= set(_sqlite.MIGRATIONS)
