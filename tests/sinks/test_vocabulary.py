"""Every layer carries every count of the one token vocabulary (``aiusage_core._counts``).

The record below has a different, non-zero value for each declared count, so a layer that
drops, swaps or zeroes one of them fails here, whichever count is added next.
"""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import genai_prices
import pytest
from hypothesis import given, settings
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from aiusage_core import (
    JsonlSink,
    Ledger,
    MemorySink,
    OTelSink,
    PriceQuery,
    SQLiteSink,
    UsageRecord,
    UsageTotals,
    ai_usage_context,
)
from aiusage_core._cli import main as cli
from aiusage_core._counts import COUNT_NAMES, COUNTS, ENCLOSING, PARTS, Usage, make_usage
from aiusage_core._delivery import settle
from aiusage_core._recording import RecordInput, emit
from aiusage_core._sqlite import COLUMNS
from pytest_aiusage import strategies as ais

DOCS = Path(__file__).parents[2] / "docs"


def distinct_counts() -> dict[str, int]:
    """A different value per count, each part smaller than the counts that include it."""
    counts = {}
    for index, name in enumerate(COUNT_NAMES):
        # Each level of nesting is a hundred times smaller; the index keeps values apart.
        counts[name] = 1_000_000 // 100 ** len(ENCLOSING[name]) + index
    return counts


COUNTS_BY_NAME = distinct_counts()


def made_record() -> tuple[UsageRecord, UsageTotals]:
    """A record of ``COUNTS_BY_NAME`` made the way integrations make them, and its context's
    totals."""
    with ai_usage_context("vocabulary") as usage:
        call = make_usage("reported", COUNTS_BY_NAME)
        emit(RecordInput(call, "claude-haiku-4-5", "anthropic", "messages", usage))
        settle()
        (record,) = usage.records
        totals = usage.totals
    return record, totals


def counts_of(obj: object) -> dict[str, int]:
    return {name: getattr(obj, name) for name in COUNT_NAMES}


def test_the_vocabulary_is_one_ordered_tuple_with_a_meaning_for_each_count() -> None:
    assert tuple(c.name for c in COUNTS) == COUNT_NAMES
    assert len(set(COUNT_NAMES)) == len(COUNT_NAMES)
    assert Usage._fields == ("status", *COUNT_NAMES)
    assert all(c.meaning.endswith(".") for c in COUNTS)
    assert {c.part_of for c in COUNTS} - {None} <= set(COUNT_NAMES)


def test_records_totals_and_price_queries_carry_every_count() -> None:
    record, totals = made_record()
    assert counts_of(record) == COUNTS_BY_NAME
    assert counts_of(totals) == COUNTS_BY_NAME
    assert counts_of(UsageTotals.of([record, record])) == {
        k: 2 * v for k, v in COUNTS_BY_NAME.items()
    }
    assert counts_of(totals + totals) == {k: 2 * v for k, v in COUNTS_BY_NAME.items()}
    query = PriceQuery(model="m", provider="p", api="a", **COUNTS_BY_NAME)
    assert counts_of(query) == COUNTS_BY_NAME
    assert query.usage() == make_usage("reported", COUNTS_BY_NAME)


def test_json_forms_carry_every_count() -> None:
    record, totals = made_record()
    data = record.to_dict()
    assert {name: data[name] for name in COUNT_NAMES} == COUNTS_BY_NAME
    assert counts_of(UsageRecord.from_dict(json.loads(json.dumps(data)))) == COUNTS_BY_NAME
    assert counts_of(UsageTotals.from_dict(totals.to_dict())) == COUNTS_BY_NAME


def test_the_price_of_every_count_is_genai_prices_own() -> None:
    record, _ = made_record()
    genai_usage = genai_prices.Usage(**{c.genai_key: COUNTS_BY_NAME[c.name] for c in COUNTS})
    expected = genai_prices.calc_price(genai_usage, "claude-haiku-4-5", provider_id="anthropic")
    assert record.cost_usd == expected.total_price
    # Each count alone (with the counts that include it) is priced as genai-prices prices it.
    for count in COUNTS:
        alone = {name: COUNTS_BY_NAME[name] for name in (count.name, *ENCLOSING[count.name])}
        with ai_usage_context("one count") as usage:
            alone_usage = make_usage("reported", alone)
            emit(RecordInput(alone_usage, "claude-haiku-4-5", "anthropic", "messages", usage))
            settle()
            (one,) = usage.records
        by_genai = genai_prices.calc_price(
            genai_prices.Usage(**{c.genai_key: alone[c.name] for c in COUNTS if c.name in alone}),
            "claude-haiku-4-5",
            provider_id="anthropic",
        )
        assert one.cost_usd == by_genai.total_price, count.name


def test_the_sqlite_ledger_its_report_and_its_exports_carry_every_count(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "usage.db"
    record, _ = made_record()
    SQLiteSink(path).write([record])
    assert set(COUNT_NAMES) <= set(COLUMNS)
    with Ledger(path) as ledger:
        (stored,) = ledger.records()
        report = ledger.report()
    assert counts_of(stored) == COUNTS_BY_NAME
    assert counts_of(report.totals) == COUNTS_BY_NAME

    assert cli(["export", "--ledger", str(path), "--format", "csv"]) == 0
    (row,) = csv.DictReader(io.StringIO(capsys.readouterr().out))
    assert {name: int(row[name]) for name in COUNT_NAMES} == COUNTS_BY_NAME
    assert cli(["export", "--ledger", str(path), "--format", "jsonl"]) == 0
    exported = json.loads(capsys.readouterr().out)
    assert {name: exported[name] for name in COUNT_NAMES} == COUNTS_BY_NAME
    assert cli(["report", "--ledger", str(path), "--format", "json"]) == 0
    reported = json.loads(capsys.readouterr().out)["totals"]
    assert {name: reported[name] for name in COUNT_NAMES} == COUNTS_BY_NAME
    assert cli(["report", "--ledger", str(path), "--format", "csv"]) == 0
    (totals_row,) = csv.DictReader(io.StringIO(capsys.readouterr().out))
    assert {name: int(totals_row[name]) for name in COUNT_NAMES} == COUNTS_BY_NAME


def test_jsonl_and_memory_sinks_keep_every_count(tmp_path: Path) -> None:
    record, _ = made_record()
    JsonlSink(tmp_path / "usage.jsonl").write([record])
    (line,) = (tmp_path / "usage.jsonl").read_text().splitlines()
    assert counts_of(UsageRecord.from_dict(json.loads(line))) == COUNTS_BY_NAME
    memory = MemorySink()
    memory.write([record])
    assert counts_of(memory.totals) == COUNTS_BY_NAME


def test_every_count_becomes_its_span_attribute() -> None:
    record, _ = made_record()
    spans = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    OTelSink(provider).write([record])
    provider.shutdown()
    (span,) = spans.get_finished_spans()
    attributes = dict(span.attributes or {})
    assert {c.name: attributes[c.otel_attribute] for c in COUNTS} == COUNTS_BY_NAME


@settings(max_examples=50, deadline=None)
@given(ais.usage_records(max_tokens=1_000))
def test_the_record_strategy_keeps_every_part_within_its_count(record: UsageRecord) -> None:
    for name in COUNT_NAMES:
        parts = [getattr(record, part) for part in PARTS[name]]
        assert sum(parts) <= getattr(record, name)


def test_the_api_page_lists_every_count_with_its_attribute() -> None:
    page = (DOCS / "api.md").read_text()
    section = page[page.index("### Token counts") : page.index("## OpenAI")]
    rows = re.findall(r"^\| `(\w+)` \|.*\| `([\w.]+)` \|$", section, re.MULTILINE)
    assert rows == [(c.name, c.otel_attribute) for c in COUNTS]


def test_no_layer_lists_the_counts_by_hand() -> None:
    """A count's name is written out where it is declared, and nowhere else that would have to
    change with it (the first migration of each ledger, SQLite and PostgreSQL, released,
    keeps its own copy)."""
    packages = Path(__file__).parents[2]
    places = [
        (path.relative_to(packages).as_posix(), line)
        for folder in ("aiusage_core", "pytest_aiusage")
        for path in sorted((packages / folder).rglob("*.py"))
        for line in path.read_text().splitlines()
        if re.search(r"\boutput_audio_tokens\b", line)
    ]
    files = sorted({path for path, _ in places})
    assert files == [
        "aiusage_core/_counts.py",
        "aiusage_core/_postgres.py",
        "aiusage_core/_sqlite.py",
    ], places
    assert len(places) <= 4, places
