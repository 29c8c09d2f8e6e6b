"""The same records give the same ``aiusage report`` from SQLite and from PostgreSQL, and
``aiusage ledger copy`` moves a ledger between them."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from sinks_testing import make_record

from aiusage_core import ErrorInfo, Ledger, PostgresSink, SQLiteSink, UsageRecord
from aiusage_core._cli import main


def _at(month: int, day: int, hour: int = 12, micro: int = 0) -> datetime:
    return datetime(2026, month, day, hour, 0, 0, micro, tzinfo=timezone.utc)


def _records() -> list[UsageRecord]:
    """Records that exercise every grouping key, typed metadata values and odd money."""
    return [
        make_record(when=_at(10, 31, 23, 999999), metadata={"job_id": "a", "attempt": 1}),
        make_record(
            model="gpt-4o",
            input_tokens=1500,
            output_tokens=900,
            reasoning_tokens=300,
            cached_input_tokens=1024,
            cache_write_tokens=100,
            cache_write_1h_tokens=60,
            web_search_requests=2,
            when=_at(11, 1, 0),
            metadata={"job_id": "a", "attempt": 2, "flag": True, "tags": {"team": "ocr"}},
            context_path=("nightly", "ocr"),
            service_tier="flex",
        ),
        make_record(
            when=_at(11, 1, 9),
            metadata={"job_id": "b", "attempt": 2.5, "flag": False, "job": None},
            context_path=("nightly",),
            batch=True,
            error=ErrorInfo("RateLimitError", "slow down"),
        ),
        make_record(
            model="my-model",
            cost_usd=None,
            when=_at(11, 2),
            usage_status="missing",
            metadata={"model": "shadowed"},
        ),
        make_record(
            cost_usd=Decimal("0.0000000000001"),
            when=_at(11, 3),
            metadata={"job_id": "b", "user": "ünï"},
            context_path=("adhoc",),
            api="embeddings",
            provider="azure",
        ),
        make_record(
            cost_usd=Decimal("12.345678901234567890"),
            when=_at(12, 1),
            metadata={"job_id": 7},
            context_path=("adhoc", "deep", "er"),
        ),
    ]


@pytest.fixture
def both(tmp_path: Path, postgres_dsn: str) -> tuple[str, str]:
    """An SQLite ledger and a PostgreSQL ledger holding the same records."""
    records = _records()
    path = str(tmp_path / "usage.db")
    for sink in (SQLiteSink(path), PostgresSink(postgres_dsn)):
        sink.write(records[:3])
        sink.write(records[3:])
        sink.close()
    return path, postgres_dsn


def _output(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    capsys.readouterr()
    status = main(list(argv))
    out, err = capsys.readouterr()
    assert (status, err) == (0, "")
    return out


REPORTS = [
    [],
    ["--by", "day"],
    ["--by", "month", "--by", "model"],
    ["--by", "job_id"],
    ["--by", "attempt,flag"],
    ["--by", "tags", "--by", "job"],
    ["--by", "path", "--by", "operation_type"],
    ["--by", "provider,api,service_tier,usage_status,batch,error"],
    ["--by", "metadata.model", "--by", "user"],
    ["--by", "model", "--since", "2026-11-01", "--until", "2026-11-30"],
    ["--by", "day", "--since", "2026-11-01T09:00", "--until", "2026-11-01T09:00"],
    ["--by", "model", "--where", "job_id=b"],
    ["--by", "model", "--where", "attempt=2", "--where", "job_id=a"],
    ["--by", "model", "--where", "path=nightly/ocr"],
    ["--by", "job_id", "--where", "batch=true"],
    ["--by", "job_id", "--where", "day=2026-11-01"],
    ["--by", "model", "--where", "job_id=nobody"],
]


@pytest.mark.parametrize("fmt", ["table", "csv", "json"])
def test_report_is_the_same_from_sqlite_and_postgres(
    capsys: pytest.CaptureFixture[str], both: tuple[str, str], fmt: str
) -> None:
    sqlite, postgres = both
    for argv in REPORTS:
        from_sqlite = _output(capsys, "report", "--ledger", sqlite, "--format", fmt, *argv)
        from_postgres = _output(capsys, "report", "--ledger", postgres, "--format", fmt, *argv)
        if fmt == "json":  # the ledger's name differs, nothing else
            one, two = json.loads(from_sqlite), json.loads(from_postgres)
            assert (one.pop("ledger"), two.pop("ledger")) == (sqlite, _shown(postgres))
            assert one == two, argv
        else:
            assert from_sqlite == from_postgres, argv


def test_a_key_no_record_has_is_the_same_error_from_sqlite_and_postgres(
    capsys: pytest.CaptureFixture[str], both: tuple[str, str]
) -> None:
    errors = []
    for ledger in both:
        assert main(["report", "--ledger", ledger, "--by", "jobid"]) == 2
        errors.append(capsys.readouterr().err)
    assert errors[0] == errors[1]
    assert errors[0] == (
        "aiusage: error: no record has the key 'jobid'; metadata keys in the ledger: attempt, "
        "flag, job, job_id, model, tags, user; record fields: model, provider, api, "
        "operation_type, path, day, month, service_tier, usage_status, batch, error\n"
    )


def test_where_model_counts_its_dated_snapshots_in_sqlite_and_postgres(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, postgres_dsn: str
) -> None:
    records = [
        make_record(model="gpt-4o-mini-2024-07-18"),
        make_record(model="gpt-4o-mini"),
        make_record(model="gpt-4o-mini-2024-07-18-ft"),
        make_record(model="gpt-4o-2024-08-06"),
        make_record(model="gpt-3.5-turbo-0125"),
    ]
    path = str(tmp_path / "usage.db")
    for sink in (SQLiteSink(path), PostgresSink(postgres_dsn)):
        sink.write(records)
        sink.close()
    for ledger in (path, postgres_dsn):
        with Ledger(ledger) as opened:
            assert opened.report(where={"model": "gpt-4o-mini"}).totals.calls == 2
            assert opened.report(where={"model": "gpt-4o"}).totals.calls == 1
            assert opened.report(where={"model": "gpt-3.5-turbo"}).totals.calls == 1
            assert opened.report(where={"model": "gpt-4o-mini-2024-07-18"}).totals.calls == 1


def _shown(dsn: str) -> str:
    return dsn.split("?")[0]


def test_report_figures_are_exact(
    capsys: pytest.CaptureFixture[str], both: tuple[str, str]
) -> None:
    _, postgres = both
    doc = json.loads(_output(capsys, "report", "--ledger", postgres, "--format", "json"))
    # two gpt-4o-mini records of 270 micro-dollars, 1500 x $2.50 + 900 x $10 per MTok of
    # gpt-4o, and the two odd amounts; the unpriced record adds nothing
    expected = (
        Decimal("0.00027") * 2
        + (1500 * Decimal("2.50") + 900 * Decimal("10.00")) / 1_000_000
        + Decimal("0.0000000000001")
        + Decimal("12.345678901234567890")
    )
    assert Decimal(doc["totals"]["cost_usd"]) == expected
    assert doc["totals"]["cost_usd"] == "12.358968901234667890"
    assert (doc["totals"]["calls"], doc["totals"]["unpriced_calls"]) == (6, 1)
    assert doc["totals"]["errors"] == 1


def test_export_gives_the_same_records_from_both(
    capsys: pytest.CaptureFixture[str], both: tuple[str, str]
) -> None:
    sqlite, postgres = both
    for argv in ([], ["--since", "2026-11-01", "--where", "job_id=a"]):
        one = _output(capsys, "export", "--ledger", sqlite, *argv).splitlines()
        two = _output(capsys, "export", "--ledger", postgres, *argv).splitlines()
        # equal as JSON (PostgreSQL's jsonb orders an object's keys its own way)
        assert [json.loads(x) for x in one] == [json.loads(x) for x in two]
    csv_one = _output(capsys, "export", "--ledger", sqlite, "--format", "csv")
    csv_two = _output(capsys, "export", "--ledger", postgres, "--format", "csv")
    assert csv_one == csv_two  # the CSV's metadata column sorts keys


def test_ledger_copy_moves_sqlite_into_postgres_and_back(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, postgres_dsn: str
) -> None:
    records = _records()
    source = tmp_path / "old.db"
    sink = SQLiteSink(source)
    sink.write(records)
    sink.close()
    out = _output(capsys, "ledger", "copy", str(source), postgres_dsn)
    assert out == (
        f"copied 6 record(s) from {source} to {_shown(postgres_dsn)}: 6 new, 0 already there\n"
    )
    again = _output(capsys, "ledger", "copy", str(source), postgres_dsn)
    assert again.endswith(": 0 new, 6 already there\n")
    back = tmp_path / "back" / "new.db"
    _output(capsys, "ledger", "copy", postgres_dsn, str(back))
    for location in (postgres_dsn, back):
        with Ledger(location) as ledger:
            assert sorted(ledger.records(), key=lambda r: r.record_id) == sorted(
                records, key=lambda r: r.record_id
            )


def test_ledger_copy_of_a_missing_source_is_a_one_line_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, postgres_dsn: str
) -> None:
    status = main(["ledger", "copy", str(tmp_path / "none.db"), postgres_dsn])
    out, err = capsys.readouterr()
    assert (status, out, err) == (2, "", f"aiusage: error: no ledger at {tmp_path / 'none.db'}\n")
