"""The ``aiusage`` command on a damaged or read-only ledger: one line naming the row and the
value (exit status 2) instead of a traceback; a read-only filesystem is read, and reading
leaves no -wal or -shm file behind."""

from __future__ import annotations

import json
import sqlite3
import tempfile
from pathlib import Path

import pytest
from sinks_testing import make_record, remount

from aiusage_core import Ledger, SQLiteSink, _sqlite
from aiusage_core._cli import main


def _ledger(path: Path) -> list[str]:
    records = [
        make_record(input_tokens=n, context_path=("job", f"step{n}"), metadata={"n": n})
        for n in (1, 2, 3)
    ]
    sink = SQLiteSink(path)
    sink.write(records)
    sink.close()
    return [r.record_id for r in records]


def _damage(path: Path, record_id: str, column: str, value: str) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute(
            f"UPDATE usage_records SET {column} = ? WHERE record_id = ?", (value, record_id)
        )
    conn.close()


@pytest.mark.parametrize(
    ("column", "value"), [("metadata", "{oops"), ("context_path", "not json"), ("metadata", "[1]")]
)
def test_export_names_the_row_and_value_it_cannot_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], column: str, value: str
) -> None:
    path = tmp_path / "usage.db"
    ids = _ledger(path)
    _damage(path, ids[1], column, value)
    assert main(["export", "--ledger", str(path)]) == 2
    out, err = capsys.readouterr()
    assert [json.loads(line)["record_id"] for line in out.splitlines()] == [ids[0]]
    assert err.count("\n") == 1
    assert err.startswith("aiusage: error: cannot read ledger")
    assert f"record {ids[1]!r} has a {column} that cannot be read: {value!r}" in err
    assert "Traceback" not in err


def test_report_by_path_names_the_row_and_value_it_cannot_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "usage.db"
    ids = _ledger(path)
    _damage(path, ids[2], "context_path", "job/step3")
    assert main(["report", "--ledger", str(path), "--by", "path"]) == 2
    _, err = capsys.readouterr()
    assert f"record {ids[2]!r} has a context_path that cannot be read: 'job/step3'" in err
    assert err.count("\n") == 1


def test_report_names_a_cost_that_is_not_a_decimal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "usage.db"
    ids = _ledger(path)
    _damage(path, ids[0], "cost_usd", "12 dollars")
    assert main(["report", "--ledger", str(path)]) == 2
    _, err = capsys.readouterr()
    assert f"record {ids[0]!r} has a cost_usd that cannot be read: '12 dollars'" in err
    assert err.count("\n") == 1


def test_report_reads_a_ledger_on_a_read_only_filesystem(
    remountable: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = remountable / "usage.db"
    _ledger(path)
    assert sorted(p.name for p in remountable.iterdir()) == ["usage.db"]
    remount(remountable, "ro")
    try:
        assert main(["report", "--ledger", str(path), "--format", "json"]) == 0
        report = json.loads(capsys.readouterr().out)
        assert report["totals"]["calls"] == 3
        assert report["totals"]["input_tokens"] == 6
        with Ledger(path) as ledger:
            assert ledger.count() == 3
    finally:
        remount(remountable, "rw")


def test_a_read_only_ledger_with_a_wal_and_no_shm_is_read_whole_and_left_as_it_is(
    tmp_path: Path, remountable: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A backup that took the ledger and its -wal (a writer had records not yet checkpointed
    # into the main file) but not the -shm: SQLite cannot read that WAL in place.
    source = tmp_path / "usage.db"
    _ledger(source)
    writer = SQLiteSink(source)
    writer.write([make_record(input_tokens=40)])  # keeps the WAL open, not checkpointed
    try:
        for suffix in ("", "-wal"):
            copied = remountable / f"usage.db{suffix}"
            copied.write_bytes(Path(f"{source}{suffix}").read_bytes())
    finally:
        writer.close()
    path = remountable / "usage.db"
    before = {p.name: p.read_bytes() for p in remountable.iterdir()}
    assert sorted(before) == ["usage.db", "usage.db-wal"]
    temporary = set(Path(tempfile.gettempdir()).glob("aiusage-ledger-*"))
    remount(remountable, "ro")
    try:
        assert main(["report", "--ledger", str(path), "--format", "json"]) == 0
        report = json.loads(capsys.readouterr().out)
        assert (report["totals"]["calls"], report["totals"]["input_tokens"]) == (4, 46)
        assert main(["export", "--ledger", str(path)]) == 0
        exported = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
        assert sorted(r["input_tokens"] for r in exported) == [1, 2, 3, 40]
    finally:
        remount(remountable, "rw")
    assert {p.name: p.read_bytes() for p in remountable.iterdir()} == before
    assert set(Path(tempfile.gettempdir()).glob("aiusage-ledger-*")) == temporary


def test_an_older_ledger_on_a_read_only_filesystem_is_read_without_migrating_it(
    remountable: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = remountable / "v1.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE schema_version (version INTEGER PRIMARY KEY, applied_at TEXT)")
    _sqlite.MIGRATIONS[1](conn)
    conn.execute("INSERT INTO schema_version (version) VALUES (1)")
    conn.execute(
        "INSERT INTO usage_records (record_id, timestamp, day, model, provider, api, "
        "context_path, input_tokens, cached_input_tokens, cache_write_tokens, output_tokens, "
        "reasoning_tokens, input_audio_tokens, output_audio_tokens, cost_usd, metadata, "
        "usage_status, batch) VALUES ('r1', '2026-11-01T00:00:00.000000+00:00', '2026-11-01', "
        "'gpt-4o', 'openai', 'chat', '[\"job\"]', 100, 40, 10, 20, 5, 3, 2, '0.5', '{}', "
        "'reported', 0)"
    )
    conn.commit()
    conn.close()
    before = path.read_bytes()
    remount(remountable, "ro")
    try:
        assert main(["report", "--ledger", str(path), "--format", "json"]) == 0
        totals = json.loads(capsys.readouterr().out)["totals"]
        with Ledger(path) as ledger:
            (record,) = ledger.records()
    finally:
        remount(remountable, "rw")
    assert (totals["calls"], totals["input_tokens"], totals["cost_usd"]) == (1, 100, "0.5")
    assert (record.cache_write_tokens, record.cache_write_1h_tokens) == (10, 0)
    assert path.read_bytes() == before  # still version 1: never migrated in place
    assert sorted(p.name for p in remountable.iterdir()) == ["v1.db"]


def test_reading_a_ledger_leaves_no_wal_or_shm_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "usage.db"
    _ledger(path)
    assert main(["report", "--ledger", str(path)]) == 0
    assert main(["export", "--ledger", str(path)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["usage.db"]
    with Ledger(path) as ledger, pytest.raises(sqlite3.OperationalError, match="readonly"):
        ledger._reader._conn.execute("DELETE FROM usage_records")  # type: ignore[attr-defined]


def test_a_ledger_being_written_is_read_through_its_wal(tmp_path: Path) -> None:
    path = tmp_path / "usage.db"
    _ledger(path)
    writer = SQLiteSink(path)
    writer.write([make_record(input_tokens=4)])  # keeps its connection (and the WAL) open
    try:
        with Ledger(path) as ledger:
            assert ledger.count() == 4
        assert (tmp_path / "usage.db-wal").exists()  # the writer's, left alone
    finally:
        writer.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["usage.db"]
