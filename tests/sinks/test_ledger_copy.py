"""``aiusage ledger copy`` between SQLite ledgers (PostgreSQL: tests/sinks/postgres), and
``--where path=...`` on an SQLite ledger."""

from __future__ import annotations

from pathlib import Path

import pytest
from sinks_testing import make_record

from aiusage_core import Ledger, SQLiteSink
from aiusage_core._cli import main


def _ledger(path: Path, *paths: tuple[str, ...]) -> None:
    sink = SQLiteSink(path)
    sink.write([make_record(input_tokens=n + 1, context_path=p) for n, p in enumerate(paths)])
    sink.close()


def test_copy_adds_only_the_records_the_target_lacks(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source, target = tmp_path / "a.db", tmp_path / "new" / "b.db"
    _ledger(source, ("job",), ("job", "ocr"), ())
    assert main(["ledger", "copy", str(source), str(target)]) == 0
    assert capsys.readouterr().out == (
        f"copied 3 record(s) from {source} to {target}: 3 new, 0 already there\n"
    )
    assert main(["ledger", "copy", str(source), str(target)]) == 0
    assert capsys.readouterr().out.endswith(": 0 new, 3 already there\n")
    with Ledger(source) as one, Ledger(target) as two:
        assert list(one.records()) == list(two.records())


def test_ledger_without_a_subcommand_prints_its_help_and_exits_2(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["ledger"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert "copy every record of one ledger into another" in err


def test_where_path_matches_a_path_of_several_contexts(tmp_path: Path) -> None:
    _ledger(tmp_path / "l.db", ("job",), ("job", "ocr"), ("job", "ocr"))
    with Ledger(tmp_path / "l.db") as ledger:
        assert ledger.report((), where={"path": "job/ocr"}).totals.input_tokens == 2 + 3
        assert ledger.report((), where={"path": "job"}).totals.input_tokens == 1
