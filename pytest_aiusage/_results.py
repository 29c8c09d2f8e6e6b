"""The plugin's results: the usage of each test (and fixture) and of the whole session.

These values are what travels on test reports from xdist workers, what ``--aiusage-json``
writes, and what a baseline would be saved from and compared against: plain frozen data with
an exact JSON form (money as decimal strings).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from importlib import resources
from types import MappingProxyType
from typing import Any, Literal, cast

from aiusage_core import ConfigurationError, UsageRecord, UsageTotals
from aiusage_core._money import decimal_str

from ._format import by_model, totals_from_dict, totals_to_dict
from ._spend import Call, Spend, by_operation, calls_of, spend_of

__all__ = [
    "JSON_VERSION",
    "NodeKind",
    "NodeUsage",
    "SessionUsage",
    "report_schema",
    "totals_from_dict",
    "totals_to_dict",
]

JSON_VERSION = 1
"""The ``version`` of the JSON report; bumped only when a field is removed or changes meaning."""


def report_schema() -> dict[str, Any]:
    """The JSON Schema of the ``--aiusage-json`` report (shipped in the package as
    ``pytest_aiusage/report.schema.json``). ::

        jsonschema.validate(json.load(open("ai-usage.json")), report_schema())
    """
    text = resources.files(__package__).joinpath("report.schema.json").read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


NodeKind = Literal["test", "fixture", "outside"]
"""What a :class:`NodeUsage` describes: a test, a wider-scoped fixture, or calls made outside
any usage context."""

_NO_MODELS: Mapping[str, UsageTotals] = MappingProxyType({})
_NO_THREADS: Mapping[str, int] = MappingProxyType({})
_NO_LIMITS: Mapping[str, Decimal | int] = MappingProxyType({})
_EMPTY = UsageTotals()


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeUsage:
    """The AI usage of one test, of one wider-scoped fixture's setup or teardown, or of
    calls made outside any usage context.

    ``by_model`` is a read-only mapping, so instances compare by value but cannot be hashed.
    """

    __test__ = False  # not a test class, even when imported into a test module

    nodeid: str
    """The test's node id; for a fixture ``"<where it is defined>::<name>"``; for calls
    outside any usage context, the test during which they happened (``""`` between tests)."""
    kind: NodeKind = "test"
    """``"test"``, ``"fixture"`` or ``"outside"``."""
    totals: UsageTotals = _EMPTY
    """Sums over the calls."""
    by_model: Mapping[str, UsageTotals] = field(default_factory=lambda: _NO_MODELS, hash=False)
    """Totals per model, models in alphabetical order."""
    scope: str | None = None
    """For a fixture: its scope (``"class"``, ``"module"``, ``"package"``, ``"session"``)."""
    phase: str | None = None
    """For a fixture: ``"setup"`` or ``"teardown"``."""
    during: str | None = None
    """For a fixture: the node id of the test during whose setup or teardown it ran."""
    spend: tuple[Spend, ...] = ()
    """The calls grouped by operation and model, biggest cost first."""
    unreported_calls: int = 0
    """Calls whose response reported no usage (``usage_status="missing"``): their tokens and
    cost are unknown, not zero."""
    unpropagated: Mapping[str, int] = field(default_factory=lambda: _NO_THREADS, hash=False)
    """Calls that reached the test without context propagation, by the name of the thread
    that made them (a plain ``threading.Thread``): counted in the test, yet worth fixing."""
    rerun: int = 0
    """For a test run again by pytest-rerunfailures: which run this is (``0`` the first,
    ``1`` the first rerun, ...). Each run has its own usage and its own budget verdict."""
    call_log: tuple[Call, ...] = ()
    """Every call, in order (only with ``--aiusage-json-calls``)."""
    budget: Mapping[str, Decimal | int] = field(default_factory=lambda: _NO_LIMITS, hash=False)
    """For a test: the limits of its AI budget (``usd``, ``tokens``, ...) that are set."""
    over_budget: tuple[str, ...] = ()
    """For a test: the names of the limits its usage went over."""

    @classmethod
    def of_records(
        cls,
        nodeid: str,
        records: Iterable[UsageRecord],
        *,
        with_calls: bool = False,
        **fields: Any,
    ) -> NodeUsage:
        """Sum ``records`` into a :class:`NodeUsage` (``fields`` sets kind, scope, ...);
        ``with_calls`` keeps every call in :attr:`call_log`."""
        records = list(records)
        return cls(
            nodeid=nodeid,
            totals=UsageTotals.of(records),
            by_model=MappingProxyType(by_model(records)),
            spend=spend_of(records),
            unreported_calls=sum(r.usage_status == "missing" for r in records),
            call_log=calls_of(records) if with_calls else (),
            **fields,
        )

    def by_operation(self) -> dict[str, UsageTotals]:
        """Totals per operation (see :mod:`._spend`), biggest cost first."""
        return by_operation(self.spend)

    @property
    def calls(self) -> int:
        """Number of calls."""
        return self.totals.calls

    @property
    def label(self) -> str:
        """The node id, followed by ``(rerun N)`` for a rerun."""
        return f"{self.nodeid} (rerun {self.rerun})" if self.rerun else self.nodeid

    @property
    def input_tokens(self) -> int:
        """Input tokens, cached ones included."""
        return self.totals.input_tokens

    @property
    def output_tokens(self) -> int:
        """Output tokens, reasoning ones included."""
        return self.totals.output_tokens

    @property
    def total_tokens(self) -> int:
        """Input plus output tokens."""
        return self.totals.total_tokens

    @property
    def cost_usd(self) -> Decimal:
        """Cost of the priced calls in US dollars."""
        return self.totals.cost_usd

    @property
    def unpriced_calls(self) -> int:
        """Calls whose price is unknown (``cost_usd`` is then a lower bound)."""
        return self.totals.unpriced_calls

    def to_dict(self) -> dict[str, Any]:
        """The JSON form: ``nodeid``, the totals' fields, ``by_model``, ``by_operation``,
        ``spend``, ``unreported_calls`` and ``kind`` (plus ``unpropagated``, ``rerun``,
        ``call_log``, ``scope``, ``phase`` and ``during`` where set)."""
        data: dict[str, Any] = {"nodeid": self.nodeid, **totals_to_dict(self.totals)}
        data["by_model"] = {model: totals_to_dict(t) for model, t in self.by_model.items()}
        data["by_operation"] = {op: totals_to_dict(t) for op, t in self.by_operation().items()}
        data["spend"] = [s.to_dict() for s in self.spend]
        data["unreported_calls"] = self.unreported_calls
        if self.unpropagated:
            data["unpropagated"] = dict(self.unpropagated)
        if self.rerun:
            data["rerun"] = self.rerun
        if self.call_log:
            data["call_log"] = [c.to_dict() for c in self.call_log]
        if self.budget:
            data["budget"] = {
                n: decimal_str(v) if isinstance(v, Decimal) else v for n, v in self.budget.items()
            }
            data["over_budget"] = list(self.over_budget)
        data["kind"] = self.kind
        for name in ("scope", "phase", "during"):
            value = getattr(self, name)
            if value is not None:
                data[name] = value
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> NodeUsage:
        """Rebuild from :meth:`to_dict` output."""
        kind = data.get("kind", "test")
        if kind not in ("test", "fixture", "outside"):
            raise ConfigurationError(f"unknown usage kind {kind!r}", name="kind", value=kind)
        models = data.get("by_model") or {}
        return cls(
            nodeid=str(data["nodeid"]),
            kind=cast(NodeKind, kind),
            totals=totals_from_dict(data),
            by_model=MappingProxyType({str(m): totals_from_dict(t) for m, t in models.items()}),
            scope=data.get("scope"),
            phase=data.get("phase"),
            during=data.get("during"),
            spend=tuple(Spend.from_dict(s) for s in data.get("spend", ())),
            unreported_calls=int(data.get("unreported_calls", 0)),
            unpropagated=MappingProxyType(
                {str(t): int(n) for t, n in (data.get("unpropagated") or {}).items()}
            ),
            rerun=int(data.get("rerun", 0)),
            call_log=tuple(Call.from_dict(c) for c in data.get("call_log", ())),
            budget=MappingProxyType(
                {
                    str(n): Decimal(str(v)) if n == "usd" else int(v)
                    for n, v in (data.get("budget") or {}).items()
                }
            ),
            over_budget=tuple(str(n) for n in data.get("over_budget", ())),
        )


def _sum(nodes: Iterable[NodeUsage]) -> UsageTotals:
    total = _EMPTY
    for node in nodes:
        if node.totals.calls:
            total = total + node.totals
    return total


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionUsage:
    """The AI usage of a whole test session, as reported at its end.

    Tests are in node id order, so a run under xdist and a serial run give equal values.
    """

    tests: tuple[NodeUsage, ...] = ()
    """Every test that ran, with or without AI calls."""
    fixtures: tuple[NodeUsage, ...] = ()
    """Setups and teardowns of wider-scoped fixtures that made AI calls."""
    outside: tuple[NodeUsage, ...] = ()
    """Calls made outside any usage context (see ``--aiusage-strict``)."""

    @property
    def totals(self) -> UsageTotals:
        """Sums over tests, fixtures and calls outside any context."""
        return _sum((*self.tests, *self.fixtures, *self.outside))

    @property
    def used_ai(self) -> bool:
        """Whether any call was made at all."""
        return any(n.totals.calls for n in (*self.tests, *self.fixtures, *self.outside))

    def by_model(self) -> dict[str, UsageTotals]:
        """Totals per model over the whole session, models in alphabetical order."""
        merged: dict[str, UsageTotals] = {}
        for node in (*self.tests, *self.fixtures, *self.outside):
            for model, totals in node.by_model.items():
                merged[model] = merged[model] + totals if model in merged else totals
        return {model: merged[model] for model in sorted(merged)}

    def by_operation(self) -> dict[str, UsageTotals]:
        """Totals per operation (see :mod:`._spend`) over the tests, biggest cost first."""
        return by_operation(s for test in self.tests for s in test.spend)

    def most_expensive(self, n: int) -> list[NodeUsage]:
        """The ``n`` tests that cost most (then used most tokens), tests without calls left
        out."""
        used = [t for t in self.tests if t.totals.calls]
        used.sort(key=lambda t: (-t.cost_usd, -t.total_tokens, t.nodeid))
        return used[:n]

    def to_dict(self) -> dict[str, Any]:
        """The JSON report: ``{"version": 1, "totals": {...}, "tests": [...], ...}``."""
        return {
            "version": JSON_VERSION,
            "totals": totals_to_dict(self.totals),
            "tests": [t.to_dict() for t in self.tests],
            "fixtures": [f.to_dict() for f in self.fixtures],
            "outside": [o.to_dict() for o in self.outside],
            "by_model": {model: totals_to_dict(t) for model, t in self.by_model().items()},
            "by_operation": {op: totals_to_dict(t) for op, t in self.by_operation().items()},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SessionUsage:
        """Rebuild from :meth:`to_dict` output (e.g. a saved ``--aiusage-json`` file)."""
        version = data.get("version")
        if version != JSON_VERSION:
            raise ConfigurationError(
                f"AI usage report version {version!r} is not supported (expected {JSON_VERSION})",
                name="version",
                value=version,
            )
        return cls(
            tests=tuple(NodeUsage.from_dict(t) for t in data.get("tests", ())),
            fixtures=tuple(NodeUsage.from_dict(f) for f in data.get("fixtures", ())),
            outside=tuple(NodeUsage.from_dict(o) for o in data.get("outside", ())),
        )

    @classmethod
    def of(cls, nodes: Iterable[NodeUsage]) -> SessionUsage:
        """Sort ``nodes`` into tests, fixtures and outside calls, each in node id order."""
        groups: dict[str, list[NodeUsage]] = {"test": [], "fixture": [], "outside": []}
        for node in nodes:
            groups[node.kind].append(node)
        for group in groups.values():
            group.sort(key=lambda n: (n.nodeid, n.rerun, n.phase or "", n.during or ""))
        return cls(
            tests=tuple(groups["test"]),
            fixtures=tuple(groups["fixture"]),
            outside=tuple(groups["outside"]),
        )
