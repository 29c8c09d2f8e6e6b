"""The ``aiusage`` command: reports and exports with exact figures, and one-line errors."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
import subprocess
import sys
from dataclasses import replace
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from report_parsing import HtmlReport, amount, markdown_tables
from sinks_testing import make_record, python_env

from aiusage_core import SQLiteSink, UsageRecord
from aiusage_core._cli import main
from aiusage_core._counts import COUNT_NAMES

AIUSAGE = str(Path(sys.executable).with_name("aiusage"))  # the installed console script


def _at(day: int, hour: int = 12, minute: int = 0, second: int = 0, micro: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, second, micro, tzinfo=timezone.utc)


# Costs from the published prices: gpt-4o-mini $0.15 in / $0.60 out, gpt-4o $2.50 / $10 per MTok.
RECORDS: list[dict[str, Any]] = [
    # 1000 x 0.15 + 200 x 0.60 = 270 micro-dollars
    {"model": "gpt-4o-mini", "input_tokens": 1000, "output_tokens": 200, "when": _at(1, 9),
     "metadata": {"job_id": "job-a"}, "context_path": ("receipts",)},
    # 1000 x 2.50 + 200 x 10 = 4500 micro-dollars; the last microsecond of Nov 1
    {"model": "gpt-4o", "input_tokens": 1000, "output_tokens": 200,
     "when": _at(1, 23, 59, 59, 999999),
     "metadata": {"job_id": "job-a"}, "context_path": ("receipts", "ocr")},
    # 2000 x 0.15 + 100 x 0.60 = 360 micro-dollars; the first microsecond of Nov 2
    {"model": "gpt-4o-mini", "input_tokens": 2000, "output_tokens": 100, "when": _at(2, 0),
     "metadata": {"job_id": "job-b"}, "context_path": ("receipts",)},
    # 500 x 2.50 + 1000 x 10 = 11250 micro-dollars
    {"model": "gpt-4o", "input_tokens": 500, "output_tokens": 1000, "when": _at(3),
     "metadata": {"job_id": "job-b"}, "context_path": ("summaries",)},
    # a model without a price: counted, never $0
    {"model": "my-model", "input_tokens": 10, "output_tokens": 10, "when": _at(3, 13),
     "cost_usd": None},
]  # fmt: skip


@pytest.fixture
def ledger(tmp_path: Path) -> Path:
    """A ledger holding RECORDS."""
    path = tmp_path / "usage.db"
    records: list[UsageRecord] = [make_record(**spec) for spec in RECORDS]
    sink = SQLiteSink(path)
    sink.write(records)
    sink.close()
    return path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def report_json(capsys: pytest.CaptureFixture[str], ledger: Path, *argv: str) -> Any:
    status, out, err = run(capsys, "report", "--ledger", str(ledger), "--format", "json", *argv)
    assert (status, err) == (0, "")
    return json.loads(out)


def test_json_report_by_model_has_exact_figures(
    capsys: pytest.CaptureFixture[str], ledger: Path
) -> None:
    doc = report_json(capsys, ledger)
    assert doc["by"] == ["model"]
    assert doc["totals"] == {
        "calls": 5,
        **dict.fromkeys(COUNT_NAMES, 0),  # every count of the vocabulary, 0 unless set below
        "input_tokens": 4510,
        "output_tokens": 1510,
        "total_tokens": 6020,
        "cost_usd": "0.01638",
        "unpriced_calls": 1,
        "errors": 0,
    }
    assert [
        (g["key"], g["calls"], g["input_tokens"], g["output_tokens"], g["cost_usd"])
        for g in doc["groups"]
    ] == [
        ("gpt-4o", 2, 1500, 1200, "0.01575"),
        ("gpt-4o-mini", 2, 3000, 300, "0.00063"),
        ("my-model", 1, 10, 10, "0"),
    ]


def test_report_by_day_uses_utc_days(capsys: pytest.CaptureFixture[str], ledger: Path) -> None:
    doc = report_json(capsys, ledger, "--by", "day")
    assert [(g["key"], g["calls"], Decimal(g["cost_usd"])) for g in doc["groups"]] == [
        ("2026-11-01", 2, Decimal("0.00477")),
        ("2026-11-02", 1, Decimal("0.00036")),
        ("2026-11-03", 2, Decimal("0.01125")),
    ]


def test_report_by_a_metadata_key_groups_records_without_it_under_null(
    capsys: pytest.CaptureFixture[str], ledger: Path
) -> None:
    doc = report_json(capsys, ledger, "--by", "job_id")
    assert [(g["key"], g["calls"], g["input_tokens"], g["cost_usd"]) for g in doc["groups"]] == [
        (None, 1, 10, "0"),
        ("job-a", 2, 2000, "0.00477"),
        ("job-b", 2, 2500, "0.01161"),
    ]


def test_several_by_keys_make_composite_groups_with_object_keys(
    capsys: pytest.CaptureFixture[str], ledger: Path
) -> None:
    doc = report_json(capsys, ledger, "--by", "job_id", "--by", "model", "--where", "job_id=job-b")
    assert [(g["key"], g["cost_usd"]) for g in doc["groups"]] == [
        ({"job_id": "job-b", "model": "gpt-4o"}, "0.01125"),
        ({"job_id": "job-b", "model": "gpt-4o-mini"}, "0.00036"),
    ]
    same = report_json(capsys, ledger, "--by", "job_id,model", "--where", "job_id=job-b")
    assert same["groups"] == doc["groups"]


def test_operation_type_is_the_innermost_context_and_path_the_whole_chain(
    capsys: pytest.CaptureFixture[str], ledger: Path
) -> None:
    by_op = report_json(capsys, ledger, "--by", "operation_type")
    assert [(g["key"], g["calls"]) for g in by_op["groups"]] == [
        (None, 1),
        ("ocr", 1),
        ("receipts", 2),
        ("summaries", 1),
    ]
    by_path = report_json(capsys, ledger, "--by", "path")
    assert [g["key"] for g in by_path["groups"]] == ["", "receipts", "receipts/ocr", "summaries"]


@pytest.mark.parametrize(
    ("window", "inputs"),
    [
        (["--since", "2026-11-02", "--until", "2026-11-02"], [2000]),
        (["--until", "2026-11-01"], [1000, 1000]),  # a date includes its last microsecond
        (["--since", "2026-11-01T23:00"], [500, 1000, 2000, 10]),
        (["--until", "2026-11-02T00:00:00Z"], [1000, 1000, 2000]),  # a time is inclusive
        (["--since", "2026-11-02T01:00:00+01:00", "--until", "2026-11-02T01:00+01:00"], [2000]),
    ],
)
def test_since_and_until_select_records_by_time(
    capsys: pytest.CaptureFixture[str], ledger: Path, window: list[str], inputs: list[int]
) -> None:
    doc = report_json(capsys, ledger, "--by", "model", *window)
    assert doc["totals"]["calls"] == len(inputs)
    assert doc["totals"]["input_tokens"] == sum(inputs)


def test_table_is_aligned_with_a_totals_row_and_an_unpriced_note(
    capsys: pytest.CaptureFixture[str], ledger: Path
) -> None:
    status, out, _ = run(capsys, "report", "--ledger", str(ledger))
    assert status == 0
    assert out.splitlines() == [
        "model        calls  input_tokens  output_tokens  cost_usd  unpriced_calls",
        "-----------  -----  ------------  -------------  --------  --------------",
        "gpt-4o           2         1,500          1,200  $0.01575               0",
        "gpt-4o-mini      2         3,000            300  $0.00063               0",
        "my-model         1            10             10   unknown               1",
        "-----------  -----  ------------  -------------  --------  --------------",
        "TOTAL            5         4,510          1,510  $0.01638               1",
        "note: 1 call(s) could not be priced; cost_usd is a lower bound",
    ]


def test_csv_report_has_one_row_per_group(capsys: pytest.CaptureFixture[str], ledger: Path) -> None:
    status, out, _ = run(
        capsys, "report", "--ledger", str(ledger), "--by", "day", "--format", "csv"
    )
    assert status == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [(r["day"], r["calls"], r["input_tokens"], r["cost_usd"]) for r in rows] == [
        ("2026-11-01", "2", "2000", "0.00477"),
        ("2026-11-02", "1", "2000", "0.00036"),
        ("2026-11-03", "2", "510", "0.01125"),
    ]


def test_export_jsonl_gives_back_every_record(
    capsys: pytest.CaptureFixture[str], ledger: Path, tmp_path: Path
) -> None:
    out_file = tmp_path / "export.jsonl"
    status, out, _ = run(capsys, "export", "--ledger", str(ledger), "--output", str(out_file))
    assert (status, out) == (0, "")
    exported = [UsageRecord.from_dict(json.loads(x)) for x in out_file.read_text().splitlines()]
    expected: list[UsageRecord] = [make_record(**spec) for spec in RECORDS]
    # the same records, apart from the ids make_record drew afresh
    assert [replace(r, record_id="") for r in exported] == [
        replace(r, record_id="") for r in expected
    ]


def test_export_csv_flattens_paths_and_metadata(
    capsys: pytest.CaptureFixture[str], ledger: Path
) -> None:
    status, out, _ = run(
        capsys, "export", "--ledger", str(ledger), "--format", "csv", "--since", "2026-11-03"
    )
    assert status == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [(r["model"], r["day"], r["context_path"], r["cost_usd"]) for r in rows] == [
        ("gpt-4o", "2026-11-03", "summaries", "0.01125"),
        ("my-model", "2026-11-03", "", ""),
    ]
    assert json.loads(rows[0]["metadata"]) == {"job_id": "job-b"}
    assert rows[0]["operation_type"] == "summaries"


def test_ledger_defaults_to_the_environment_variable(
    capsys: pytest.CaptureFixture[str], ledger: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIUSAGE_LEDGER", str(ledger))
    status, out, _ = run(capsys, "report", "--format", "json")
    assert status == 0
    assert json.loads(out)["totals"]["calls"] == 5


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["report", "--ledger", "{missing}"], "aiusage: error: no ledger at {missing}\n"),
        (["report"], "aiusage: error: no ledger given: use --ledger PATH or set AIUSAGE_LEDGER\n"),
        (
            ["report", "--ledger", "{ledger}", "--since", "2026-11-31"],
            "aiusage: error: --since: '2026-11-31' is not a date (2026-11-01) or a date and time "
            "(2026-11-01T14:30, 2026-11-01T14:30:00+02:00)\n",
        ),
        (
            ["export", "--ledger", "{ledger}", "--until", "yesterday"],
            "aiusage: error: --until: 'yesterday' is not a date (2026-11-01) or a date and time "
            "(2026-11-01T14:30, 2026-11-01T14:30:00+02:00)\n",
        ),
        (
            ["report", "--ledger", "{ledger}", "--since", "2026-11-03", "--until", "2026-11-01"],
            "aiusage: error: --since 2026-11-03 is not before --until 2026-11-01\n",
        ),
        (
            ["report", "--ledger", "{ledger}", "--where", "job_id"],
            "aiusage: error: --where: expected KEY=VALUE, got 'job_id'\n",
        ),
    ],
)
def test_mistakes_print_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str],
    ledger: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    argv: list[str],
    message: str,
) -> None:
    monkeypatch.delenv("AIUSAGE_LEDGER", raising=False)
    names = {"ledger": str(ledger), "missing": str(tmp_path / "nope.db")}
    status, out, err = run(capsys, *(a.format(**names) for a in argv))
    assert (status, out, err) == (2, "", message.format(**names))


def test_a_ledger_from_a_newer_aiusage_is_a_one_line_error(
    capsys: pytest.CaptureFixture[str], ledger: Path
) -> None:
    conn = sqlite3.connect(ledger)
    conn.execute("INSERT INTO schema_version (version) VALUES (7)")
    conn.commit()
    conn.close()
    status, out, err = run(capsys, "report", "--ledger", str(ledger))
    assert (status, out) == (2, "")
    assert err == (
        f"aiusage: error: ledger {ledger} has schema version 7, but this aiusage understands "
        "versions up to 2: upgrade pytest-aiusage to read or write it\n"
    )


def test_console_script_end_to_end(ledger: Path) -> None:
    done = subprocess.run(
        [AIUSAGE, "report", "--ledger", str(ledger), "--by", "job_id", "--format", "json"],
        capture_output=True,
        text=True,
        env=python_env(),
        timeout=60,
        check=False,
    )
    assert (done.returncode, done.stderr) == (0, "")
    doc = json.loads(done.stdout)
    assert doc["totals"]["cost_usd"] == "0.01638"
    assert [g["key"] for g in doc["groups"]] == [None, "job-a", "job-b"]


def test_console_script_error_has_no_traceback(tmp_path: Path) -> None:
    done = subprocess.run(
        [AIUSAGE, "export", "--ledger", str(tmp_path / "absent.db")],
        capture_output=True,
        text=True,
        env=python_env(),
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr == f"aiusage: error: no ledger at {tmp_path / 'absent.db'}\n"


def test_help_explains_keys_dates_and_examples(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["report", "--help"])
    assert exited.value.code == 0
    text = capsys.readouterr().out
    for expected in ("--by KEY", "job_id", "--since 2026-11-01", "examples:", "--format"):
        assert expected in text
    with pytest.raises(SystemExit):
        main(["--version"])
    assert capsys.readouterr().out.startswith("aiusage (pytest-aiusage) ")


def test_a_by_key_no_record_has_is_an_error_naming_the_keys_that_exist(
    capsys: pytest.CaptureFixture[str], ledger: Path
) -> None:
    status, out, err = run(capsys, "report", "--ledger", str(ledger), "--by", "jobid")
    assert (status, out) == (2, "")
    assert err == (
        "aiusage: error: no record has the key 'jobid'; metadata keys in the ledger: job_id; "
        "record fields: model, provider, api, operation_type, path, day, month, service_tier, "
        "usage_status, batch, error\n"
    )
    # A key some records have still groups the others under (none).
    assert [g["key"] for g in report_json(capsys, ledger, "--by", "job_id")["groups"]] == [
        None,
        "job-a",
        "job-b",
    ]


def test_where_model_selects_the_models_dated_snapshots(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "usage.db"
    sink = SQLiteSink(path)
    sink.write(
        [
            make_record(model=model, input_tokens=1000, output_tokens=0, when=_at(1))
            for model in ("gpt-4o-mini-2024-07-18", "gpt-4o-mini", "gpt-4o-2024-08-06")
        ]
    )
    sink.close()
    doc = report_json(capsys, path, "--where", "model=gpt-4o-mini")
    assert [g["key"] for g in doc["groups"]] == ["gpt-4o-mini", "gpt-4o-mini-2024-07-18"]
    exact = report_json(capsys, path, "--where", "model=gpt-4o-mini-2024-07-18")
    assert [g["key"] for g in exact["groups"]] == ["gpt-4o-mini-2024-07-18"]


def test_reading_a_ledger_leaves_no_wal_or_shm_file_behind(ledger: Path) -> None:
    assert sorted(p.name for p in ledger.parent.iterdir()) == ["usage.db"]
    done = subprocess.run(
        [AIUSAGE, "report", "--ledger", str(ledger)],
        capture_output=True,
        text=True,
        env=python_env(),
        timeout=60,
        check=False,
    )
    assert (done.returncode, done.stderr) == (0, "")
    assert sorted(p.name for p in ledger.parent.iterdir()) == ["usage.db"]


def test_markdown_report_has_spend_per_day_and_the_grouped_table(
    capsys: pytest.CaptureFixture[str], ledger: Path
) -> None:
    status, out, err = run(capsys, "report", "--ledger", str(ledger), "--format", "markdown")
    assert (status, err) == (0, "")
    tables = markdown_tables(out)
    # Per day, each model's cost and the day's total (a model without calls that day spent
    # $0; one whose calls had no price is unknown, and so is that part of the total).
    assert tables["Spend by day, per model"] == [
        {
            "day": "2026-11-01",
            "gpt-4o": "$0.00450",
            "gpt-4o-mini": "$0.00027",
            "my-model": "$0.00000",
            "total": "$0.00477",
        },
        {
            "day": "2026-11-02",
            "gpt-4o": "$0.00000",
            "gpt-4o-mini": "$0.00036",
            "my-model": "$0.00000",
            "total": "$0.00036",
        },
        {
            "day": "2026-11-03",
            "gpt-4o": "$0.01125",
            "gpt-4o-mini": "$0.00000",
            "my-model": "unknown",
            "total": "$0.01125 + unknown (1 call)",
        },
    ]
    groups = tables["By model"]
    assert [(r["model"], r["calls"], r["cost_usd"]) for r in groups] == [
        ("gpt-4o", "2", "$0.01575"),
        ("gpt-4o-mini", "2", "$0.00063"),
        ("my-model", "1", "unknown"),
        ("TOTAL", "5", "$0.01638 + unknown (1 call)"),
    ]


def test_html_report_charts_spend_per_month_per_job_in_inline_svg(
    capsys: pytest.CaptureFixture[str], ledger: Path
) -> None:
    status, out, err = run(
        capsys,
        "report",
        "--ledger",
        str(ledger),
        "--format",
        "html",
        "--by",
        "job_id",
        "--period",
        "month",
    )
    assert (status, err) == (0, "")
    page = HtmlReport(out)
    assert page.urls == []
    assert page.scripts_with_src == 0
    assert amount(page.fields["cost_usd"]) == Decimal("0.01638")
    assert page.fields["calls"] == "5"
    # One bar per job in the one month (the unpriced record of no job costs nothing known).
    assert sorted(page.svg_rects) == ["2026-11 (none)", "2026-11 job-a", "2026-11 job-b"][1:]
    headers, rows = page.tables["Spend by month, per job_id: figures"]
    assert (headers, rows) == (
        ["month", "(none)", "job-a", "job-b", "total"],
        [["2026-11", "unknown", "$0.00477", "$0.01161", "$0.01638 + unknown (1 call)"]],
    )
    headers, rows = page.tables["Calls, tokens and cost by job_id"]
    assert headers == ["job_id", "calls", "input_tokens", "output_tokens", "cost_usd"]
    assert [(r[0], r[-1]) for r in rows] == [
        ("(none)", "unknown"),
        ("job-a", "$0.00477"),
        ("job-b", "$0.01161"),
        ("TOTAL", "$0.01638 + unknown (1 call)"),
    ]
