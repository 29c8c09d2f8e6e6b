"""PostgresSink: an exact, deduplicating, versioned ledger that many writers share."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest
from pg_server import PostgresServer
from sinks_testing import make_record, python_env, run_python

from aiusage_core import (
    ConfigurationError,
    ErrorInfo,
    JsonlSink,
    Ledger,
    LedgerError,
    PostgresSink,
    SchemaVersionError,
    _postgres,
    _sqlite,
    ai_usage_context,
    configure,
    record_usage,
)
from aiusage_core._counts import COUNT_NAMES
from aiusage_core._delivery import deliver


def _query(dsn: str, sql: str) -> list[tuple[object, ...]]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(sql).fetchall()  # type: ignore[arg-type]


def _run(dsn: str, sql: str) -> None:
    with psycopg.connect(dsn) as conn:
        conn.execute(sql)  # type: ignore[arg-type]


def test_every_field_round_trips_exactly(postgres_dsn: str) -> None:
    records = [
        make_record(
            model="gpt-4o",
            provider="azure",
            api="responses",
            input_tokens=1200,
            cached_input_tokens=1024,
            cache_write_tokens=3,
            cache_write_1h_tokens=2,
            web_search_requests=1,
            output_tokens=300,
            reasoning_tokens=128,
            input_audio_tokens=7,
            output_audio_tokens=9,
            cost_usd=Decimal("0.0012345678901234567890123456"),
            metadata={"job_id": "job-7", "tags": {"team": "ocr", "n": [1, 2]}, "ok": True},
            context_path=("batch", "page"),
            error=ErrorInfo("RateLimitError", "slow down\tnow\nplease \\ ok"),
            latency_ms=812.5,
            usage_status="reported",
            batch=True,
            service_tier="flex",
            request_id="req_123",
            # not UTC: stored as the same instant in UTC
            when=datetime(2026, 11, 2, 1, 30, tzinfo=timezone(timedelta(hours=2))),
        ),
        make_record(model="mystery", cost_usd=None, usage_status="missing"),
        make_record(cost_usd=Decimal("1E-12"), metadata={"note": "naïve — ünïcode"}),
    ]
    sink = PostgresSink(postgres_dsn)
    sink.write(records)
    sink.close()
    with Ledger(postgres_dsn) as ledger:
        back = list(ledger.records())
        rows = list(ledger.rows())
    assert back == records
    assert back[0].timestamp.utcoffset() == timedelta(0)
    assert rows[0]["timestamp"] == "2026-11-01T23:30:00.000000+00:00"
    assert rows[2]["cost_usd"] == "0.000000000001"  # plain decimal text, never 1E-12


def test_columns_hold_typed_values_money_as_exact_numeric(postgres_dsn: str) -> None:
    sink = PostgresSink(postgres_dsn)
    sink.write(
        [
            make_record(
                context_path=("nightly", "ocr"),
                when=datetime(2026, 11, 30, 23, 59, 59, 999999, tzinfo=timezone.utc),
            )
        ]
    )
    sink.close()
    ((operation, day, path, cost, metadata, batch),) = _query(
        postgres_dsn,
        "SELECT operation_type, day, context_path, cost_usd, metadata, batch FROM usage_records",
    )
    # 1000 x $0.15/MTok + 200 x $0.60/MTok
    assert (operation, str(day), path, cost, metadata, batch) == (
        "ocr",
        "2026-11-30",
        ["nightly", "ocr"],
        Decimal("0.00027"),
        {},
        False,
    )


def test_a_record_written_twice_is_stored_once(postgres_dsn: str) -> None:
    sink = PostgresSink(postgres_dsn)
    first, second, third = (make_record(input_tokens=n) for n in (1, 2, 4))
    sink.write([first])
    sink.write([first, second])  # a retry that repeats an already stored record
    sink.write([third, third])  # the same record twice in one batch
    sink.close()
    with Ledger(postgres_dsn) as ledger:
        assert ledger.count() == 3
        assert ledger.report(()).totals.input_tokens == 7


def test_a_new_ledger_has_every_schema_version_and_the_sqlite_columns(postgres_dsn: str) -> None:
    sink = PostgresSink(postgres_dsn)
    sink.check()
    sink.close()
    versions = _query(postgres_dsn, "SELECT version FROM schema_version ORDER BY 1")
    assert versions == [(v,) for v in range(1, _sqlite.current_schema_version() + 1)]
    columns = _query(
        postgres_dsn,
        "SELECT column_name FROM information_schema.columns "
        "WHERE table_name = 'usage_records' AND table_schema = current_schema() "
        "ORDER BY ordinal_position",
    )
    assert sorted(c for (c,) in columns) == sorted(_sqlite.COLUMNS)
    assert set(COUNT_NAMES) <= {c for (c,) in columns}
    indexes = {
        i
        for (i,) in _query(
            postgres_dsn, "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema()"
        )
    }
    assert {"usage_records_pkey", "usage_records_timestamp"} <= indexes
    assert _postgres.current_schema_version() == _sqlite.current_schema_version()


def test_a_version_1_ledger_is_migrated_and_its_records_read_with_the_new_counts_at_0(
    postgres_dsn: str,
) -> None:
    _run(
        postgres_dsn,
        "CREATE TABLE schema_version (version integer PRIMARY KEY, applied_at timestamptz); "
        + _postgres.MIGRATIONS[1]
        + "; INSERT INTO schema_version (version) VALUES (1); "
        "INSERT INTO usage_records (record_id, timestamp, day, model, provider, api, "
        "context_path, input_tokens, cached_input_tokens, cache_write_tokens, output_tokens, "
        "reasoning_tokens, input_audio_tokens, output_audio_tokens, cost_usd, metadata, "
        "usage_status, batch) VALUES ('r1', '2026-11-01T00:00:00Z', '2026-11-01', 'gpt-4o', "
        "'openai', 'chat', '[]', 100, 40, 10, 20, 5, 3, 2, 0.5, '{}', 'reported', false)",
    )
    with Ledger(postgres_dsn) as ledger:
        assert ledger.schema_version == _postgres.current_schema_version()
        (record,) = ledger.records()
        totals = ledger.report().totals
    assert (record.input_tokens, record.cache_write_tokens, record.output_audio_tokens) == (
        100,
        10,
        2,
    )
    assert (record.cache_write_1h_tokens, record.web_search_requests) == (0, 0)
    assert (totals.cache_write_tokens, totals.cost_usd) == (10, Decimal("0.5"))


def test_a_ledger_from_a_newer_aiusage_is_refused_by_writer_and_reader(
    postgres_dsn: str, spool_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    sink = PostgresSink(postgres_dsn)
    sink.check()
    sink.close()
    newer = _postgres.current_schema_version() + 1
    _run(postgres_dsn, f"INSERT INTO schema_version (version) VALUES ({newer})")
    with pytest.raises(SchemaVersionError) as caught:
        PostgresSink(postgres_dsn).check()
    assert (caught.value.found, caught.value.supported) == (newer, newer - 1)
    with pytest.raises(SchemaVersionError, match=f"schema version {newer}"):
        Ledger(postgres_dsn)
    # A writer's records wait in the spool; the caller never sees the error.
    with configure(sinks=[PostgresSink(postgres_dsn)]), ai_usage_context("job"):
        record_usage(model="gpt-4o-mini", input_tokens=10)
    assert f"schema version {newer}" in caplog.text
    (spool,) = spool_dir.glob("postgressink-*.jsonl")
    assert '"input_tokens":10' in spool.read_text()


def test_migrations_add_to_a_released_schema_and_never_half_apply(
    postgres_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    sink = PostgresSink(postgres_dsn)
    sink.write([make_record(input_tokens=42)])
    sink.close()
    now = _postgres.current_schema_version()
    monkeypatch.setitem(
        _postgres.MIGRATIONS, now + 1, "ALTER TABLE usage_records ADD COLUMN team text; SELECT 1/0"
    )
    with pytest.raises(LedgerError, match="division by zero"):
        PostgresSink(postgres_dsn).check()
    assert _query(postgres_dsn, "SELECT MAX(version) FROM schema_version") == [(now,)]
    monkeypatch.setitem(
        _postgres.MIGRATIONS, now + 1, "ALTER TABLE usage_records ADD COLUMN team text"
    )
    with Ledger(postgres_dsn) as ledger:  # reading an old ledger migrates it once
        assert ledger.schema_version == now + 1
        assert [r.input_tokens for r in ledger.records()] == [42]
    assert _query(postgres_dsn, "SELECT MAX(version) FROM schema_version") == [(now + 1,)]


def test_concurrent_first_writers_create_the_ledger_once(postgres_dsn: str) -> None:
    sinks = [PostgresSink(postgres_dsn) for _ in range(6)]
    start = threading.Barrier(len(sinks))
    errors: list[BaseException] = []

    def first_write(sink: PostgresSink, n: int) -> None:
        start.wait()
        try:
            sink.write([make_record(input_tokens=n)])
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=first_write, args=(s, n)) for n, s in enumerate(sinks)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for sink in sinks:
        sink.close()
    assert errors == []
    assert _query(postgres_dsn, "SELECT COUNT(*), MAX(version) FROM schema_version") == [
        (_postgres.current_schema_version(),) * 2
    ]
    with Ledger(postgres_dsn) as ledger:
        assert sorted(r.input_tokens for r in ledger.records()) == list(range(6))


def test_a_database_with_a_foreign_usage_records_table_is_refused(postgres_dsn: str) -> None:
    _run(postgres_dsn, "CREATE TABLE usage_records (id int)")
    with pytest.raises(LedgerError, match="not an aiusage ledger"):
        PostgresSink(postgres_dsn).check()
    with pytest.raises(LedgerError, match="not an aiusage ledger"):
        Ledger(postgres_dsn)


def test_an_empty_database_is_no_ledger_to_read(postgres_dsn: str) -> None:
    with pytest.raises(LedgerError, match=r"no ledger at postgresql://postgres@127\.0\.0\.1:\d+/"):
        Ledger(postgres_dsn)


def test_two_schemas_of_one_database_are_two_ledgers_with_two_spools(
    postgres_server: PostgresServer,
) -> None:
    one = PostgresSink(postgres_server.create_schema("ledger_one"))
    two = PostgresSink(postgres_server.create_schema("ledger_two"))
    assert one.location == two.location  # shown alike: same server, database and user
    assert one.spool_key != two.spool_key


def test_threads_sharing_one_sink_store_every_record(postgres_dsn: str) -> None:
    sink = PostgresSink(postgres_dsn)
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
    sink.close()
    with Ledger(postgres_dsn) as ledger:
        assert ledger.count() == 800
        assert ledger.report(()).totals.input_tokens == 4 * sum(
            n * 100 + i for n in range(8) for i in range(25)
        )


def test_a_stopped_server_fails_the_write_and_a_restarted_one_takes_the_next(
    postgres_server: PostgresServer, postgres_dsn: str
) -> None:
    sink = PostgresSink(postgres_dsn)
    sink.write([make_record(input_tokens=1)])
    postgres_server.stop()
    try:
        with pytest.raises(LedgerError, match="PostgreSQL ledger postgresql://"):
            sink.write([make_record(input_tokens=2)])
        with pytest.raises(LedgerError, match=r"Connection refused|connection failed"):
            sink.write([make_record(input_tokens=3)])
    finally:
        postgres_server.start()
    sink.write([make_record(input_tokens=4)])  # a new connection
    sink.close()
    with Ledger(postgres_dsn) as ledger:
        assert sorted(r.input_tokens for r in ledger.records()) == [1, 4]


def test_aiusage_ledger_environment_variable_configures_a_postgres_ledger(
    postgres_dsn: str,
) -> None:
    run_python(
        """
        from aiusage_core import PostgresSink, ai_usage_context, record_usage, settings
        (sink,) = settings().sinks
        assert isinstance(sink, PostgresSink), sink
        with ai_usage_context("nightly", job_id="job-9"):
            record_usage(model="gpt-4o-mini", input_tokens=1000, output_tokens=200)
        record_usage(model="gpt-4o-mini", input_tokens=1)  # outside any context: at exit
        """,
        env=python_env(AIUSAGE_LEDGER=postgres_dsn),
    )
    with Ledger(postgres_dsn) as ledger:
        records = list(ledger.records())
    assert [(r.context_path, r.input_tokens) for r in records] == [(("nightly",), 1000), ((), 1)]
    assert records[0].cost_usd == Decimal("0.00027")  # 1000 x $0.15/MTok + 200 x $0.60/MTok
    assert records[0].metadata["job_id"] == "job-9"


def test_a_forked_child_writes_on_its_own_connection(postgres_dsn: str) -> None:
    out = run_python(
        f"""
        import os
        from aiusage_core import Ledger, PostgresSink
        from aiusage_core._records import UsageRecord
        sink = PostgresSink({postgres_dsn!r})
        sink.write([UsageRecord(model="m", input_tokens=1)])
        pid = os.fork()
        if pid == 0:
            sink.write([UsageRecord(model="m", input_tokens=2)])
            os._exit(0)
        os.waitpid(pid, 0)
        sink.write([UsageRecord(model="m", input_tokens=3)])  # the parent's session lives on
        sink.close()
        with Ledger({postgres_dsn!r}) as ledger:
            print(sorted(r.input_tokens for r in ledger.records()))
        """
    )
    assert out.strip() == "[1, 2, 3]"


@pytest.mark.parametrize(
    "dsn",
    [
        "mysql://x:hunter2@h/db",
        "postgresql://u:hunter2%zz@h/db",
        "",
    ],
)
def test_a_malformed_dsn_is_refused_at_once_without_its_password(dsn: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        PostgresSink(dsn)
    assert "hunter2" not in str(caught.value)


def test_a_record_postgresql_refuses_is_set_aside_and_the_others_are_stored(
    postgres_dsn: str, spool_dir: Path
) -> None:
    sink = PostgresSink(postgres_dsn)
    bad = make_record(input_tokens=2, metadata={"note": "nul \x00 inside"})
    with pytest.raises(psycopg.DataError):
        sink.write([bad])
    sink.write([make_record(input_tokens=9)])  # the connection is usable again
    with configure(sinks=[sink]), ai_usage_context("job"):
        record_usage(model="gpt-4o-mini", input_tokens=1)
        deliver(sink, [make_record(input_tokens=3), bad, make_record(input_tokens=4)])
    sink.close()
    with Ledger(postgres_dsn) as ledger:
        assert sorted(r.input_tokens for r in ledger.records()) == [1, 3, 4, 9]
    (dead,) = spool_dir.glob("postgressink-*.dead-letter.jsonl")
    assert [r.input_tokens for r in JsonlSink.read(dead)] == [2]


_COUNTS_1 = (
    "input_tokens",
    "cached_input_tokens",
    "cache_write_tokens",
    "output_tokens",
    "reasoning_tokens",
    "input_audio_tokens",
    "output_audio_tokens",
)
RELEASED_POSTGRES_SCHEMAS: dict[int, tuple[str, ...]] = {
    1: (
        "record_id text NOT NULL",
        "timestamp timestamp with time zone NOT NULL",
        "day date NOT NULL",
        "model text NOT NULL",
        "provider text NOT NULL",
        "api text NOT NULL",
        "operation_type text",
        "context_path jsonb NOT NULL",
        *(f"{name} bigint NOT NULL" for name in _COUNTS_1),
        "cost_usd numeric",
        "metadata jsonb NOT NULL",
        "error_type text",
        "error_message text",
        "latency_ms double precision",
        "usage_status text NOT NULL",
        "batch boolean NOT NULL",
        "service_tier text",
        "request_id text",
        "UNIQUE INDEX usage_records_pkey ON usage_records USING btree (record_id)",
        'INDEX usage_records_timestamp ON usage_records USING btree ("timestamp")',
    ),
    2: (
        "cache_write_1h_tokens bigint NOT NULL DEFAULT 0",
        "web_search_requests bigint NOT NULL DEFAULT 0",
    ),
}
"""What each released migration adds, frozen: a ledger an older aiusage wrote must keep
meaning what it meant. A schema change is the next number, never an edit of these."""


@pytest.mark.parametrize("version", sorted(RELEASED_POSTGRES_SCHEMAS))
def test_released_migrations_are_never_changed(postgres_dsn: str, version: int) -> None:
    for step in range(1, version + 1):
        _run(postgres_dsn, _postgres.MIGRATIONS[step])
    columns = [
        f"{name} {kind}"
        + ("" if nullable == "YES" else " NOT NULL")
        + ("" if default is None else f" DEFAULT {default}")
        for name, kind, nullable, default in _query(
            postgres_dsn,
            "SELECT column_name, data_type, is_nullable, column_default "
            "FROM information_schema.columns WHERE table_schema = current_schema() "
            "AND table_name = 'usage_records'",
        )
    ]
    indexes = [
        str(sql).removeprefix("CREATE ").replace(f"ON {schema}.", "ON ")
        for schema, sql in _query(
            postgres_dsn,
            "SELECT schemaname, indexdef FROM pg_indexes WHERE schemaname = current_schema()",
        )
    ]
    expected = [c for v in range(1, version + 1) for c in RELEASED_POSTGRES_SCHEMAS[v]]
    assert sorted(columns + indexes) == sorted(expected), (
        f"migration {version} of the PostgreSQL ledger changed: add the next number instead"
    )
    assert set(RELEASED_POSTGRES_SCHEMAS) <= set(_postgres.MIGRATIONS)
