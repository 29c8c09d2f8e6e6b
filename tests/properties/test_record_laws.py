"""Usage records survive every way they leave the process: dicts, JSON and pickle."""

from __future__ import annotations

import json
import pickle
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from aiusage_core import UsageRecord, UsageTotals
from pytest_aiusage.strategies import metadata, usage_records


@given(usage_records())
def test_to_dict_then_from_dict_gives_the_same_record(record: UsageRecord) -> None:
    assert UsageRecord.from_dict(record.to_dict()) == record


@given(usage_records())
def test_a_record_round_trips_through_json_text(record: UsageRecord) -> None:
    text = json.dumps(record.to_dict())
    again = UsageRecord.from_dict(json.loads(text))
    assert again == record
    assert again.cost_usd == record.cost_usd
    assert isinstance(again.cost_usd, Decimal | None)


@given(usage_records())
def test_a_record_round_trips_through_pickle(record: UsageRecord) -> None:
    assert pickle.loads(pickle.dumps(record)) == record


@given(st.lists(usage_records(metadata=metadata(max_depth=0, max_size=2)), max_size=6))
def test_totals_of_records_are_the_sum_of_each_records_totals(
    records: list[UsageRecord],
) -> None:
    totals = UsageTotals.of(records)
    assert totals == sum((UsageTotals.of([r]) for r in records), UsageTotals())
    assert totals.calls == len(records)
    assert totals.total_tokens == sum(r.total_tokens for r in records)
    assert totals.unpriced_calls == sum(r.cost_usd is None for r in records)
    assert totals.cost_usd == sum((r.cost_usd for r in records if r.cost_usd), Decimal(0))
    assert Decimal(totals.to_dict()["cost_usd"]) == totals.cost_usd
