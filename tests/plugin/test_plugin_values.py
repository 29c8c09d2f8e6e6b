"""The plugin's public values: ``Budget``, ``NodeUsage``, ``SessionUsage``, and its API."""

from __future__ import annotations

import json
from decimal import Decimal
from importlib.metadata import version
from types import MappingProxyType

import pytest

import pytest_aiusage
from aiusage_core import ConfigurationError, UsageRecord, UsageTotals
from pytest_aiusage import Budget, NodeUsage, SessionUsage


def test_public_api_is_exactly_the_sorted_all() -> None:
    # (pytest rewrites the asserts of plugin packages, adding names like "@py_builtins".)
    public = {
        n
        for n in vars(pytest_aiusage)
        if n.isidentifier() and not n.startswith("_") and n != "annotations"
    }
    public -= {"version", "PackageNotFoundError"}
    # Submodules imported by other parts of the package are not part of the API list.
    public -= {"fake_openai", "strategies"}
    assert sorted(pytest_aiusage.__all__) == pytest_aiusage.__all__
    assert set(pytest_aiusage.__all__) - {"__version__"} == public
    assert pytest_aiusage.__version__ == version("pytest-aiusage")
    for name in pytest_aiusage.__all__:
        if name != "__version__":
            assert getattr(pytest_aiusage, name).__doc__


def test_budget_parses_a_spec_and_names_the_limits_it_goes_over() -> None:
    budget = Budget.parse("usd=0.0004, calls=1 tokens=2000")
    assert budget == Budget(usd=Decimal("0.0004"), calls=1, tokens=2000)
    assert str(budget) == "usd=0.0004, tokens=2000, calls=1"
    totals = UsageTotals(calls=2, input_tokens=1000, output_tokens=500, cost_usd=Decimal("0.00045"))
    assert budget.violations(totals) == ["cost $0.00045 > limit $0.00040", "calls 2 > limit 1"]
    assert Budget().is_empty
    assert Budget().violations(totals) == []
    assert str(Budget()) == "no limits"


def test_budget_coerces_numbers_and_rejects_bad_ones_naming_them() -> None:
    assert Budget(usd=0.01, calls=1e3) == Budget(usd=Decimal("0.01"), calls=1000)  # type: ignore[arg-type]
    with pytest.raises(
        ConfigurationError, match=r"Budget: usd=Decimal\('-1'\) must be a finite"
    ) as info:
        Budget(usd=Decimal(-1))
    assert (info.value.name, info.value.value) == ("Budget: usd", Decimal(-1))
    with pytest.raises(ConfigurationError, match=r"budget: 'usd' is given twice"):
        Budget.parse("usd=1, usd=2")
    with pytest.raises(ConfigurationError, match=r"my spec: unknown limit 'minutes'"):
        Budget.parse("minutes=3", where="my spec")


def _record(model: str, cost: str | None, inp: int, out: int) -> UsageRecord:
    return UsageRecord(
        model=model,
        input_tokens=inp,
        output_tokens=out,
        cost_usd=None if cost is None else Decimal(cost),
    )


def test_node_usage_survives_its_json_form_exactly() -> None:
    usage = NodeUsage.of_records(
        "tests/test_a.py::test_x",
        [
            _record("gpt-4o-mini", "0.00045", 1000, 500),
            _record("gpt-4o-mini", "0.00000015", 1, 0),
            _record("my-model", None, 10, 1),
        ],
    )
    data = json.loads(json.dumps(usage.to_dict()))
    assert data["cost_usd"] == "0.00045015"  # never exponent notation
    assert data["by_model"]["gpt-4o-mini"]["cost_usd"] == "0.00045015"
    assert data["unpriced_calls"] == 1
    assert NodeUsage.from_dict(data) == usage
    assert (usage.calls, usage.input_tokens, usage.output_tokens, usage.total_tokens) == (
        3,
        1011,
        501,
        1512,
    )
    assert isinstance(usage.by_model, MappingProxyType)

    fixture = NodeUsage(
        nodeid="conftest.py::client", kind="fixture", scope="session", phase="setup", during="t"
    )
    assert NodeUsage.from_dict(fixture.to_dict()) == fixture


def test_session_usage_orders_sums_and_round_trips_the_report() -> None:
    small = NodeUsage.of_records("b.py::test_small", [_record("gpt-4o-mini", "0.00045", 1000, 500)])
    big = NodeUsage.of_records("c.py::test_big", [_record("gpt-4o", "0.0035", 1000, 100)])
    idle = NodeUsage(nodeid="a.py::test_idle")
    fixture = NodeUsage.of_records(
        "conftest.py::client", [_record("gpt-4o", "0.001", 100, 50)], kind="fixture"
    )
    session = SessionUsage.of([small, fixture, big, idle])
    assert [t.nodeid for t in session.tests] == [
        "a.py::test_idle",
        "b.py::test_small",
        "c.py::test_big",
    ]
    assert session.fixtures == (fixture,)
    assert session.totals.cost_usd == Decimal("0.00495")
    assert session.totals.calls == 3
    assert session.most_expensive(5) == [big, small]
    assert session.most_expensive(1) == [big]
    assert {m: t.cost_usd for m, t in session.by_model().items()} == {
        "gpt-4o": Decimal("0.0045"),
        "gpt-4o-mini": Decimal("0.00045"),
    }
    report = json.loads(json.dumps(session.to_dict()))
    assert report["version"] == 1
    assert report["totals"]["cost_usd"] == "0.00495"
    assert SessionUsage.from_dict(report) == session
    assert not SessionUsage(tests=(idle,)).used_ai


def test_session_usage_refuses_a_report_of_another_version() -> None:
    with pytest.raises(ConfigurationError, match=r"version 2 is not supported \(expected 1\)"):
        SessionUsage.from_dict({"version": 2, "tests": []})
