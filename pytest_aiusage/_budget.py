"""AI budgets: the ``ai_budget`` marker, default budgets, and checking usage against them.

A test's budget is resolved limit by limit from the nearest source that sets it: the test's
own ``@pytest.mark.ai_budget``, then its class's, then its module's, then
``--aiusage-default-budget``, then the ``aiusage_default_budget`` ini key. A limit set to
``None`` (``"none"`` in a spec string) lifts a limit set further out.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from types import MappingProxyType
from typing import TYPE_CHECKING

from aiusage_core import Budget as CoreBudget
from aiusage_core import ConfigurationError, UsageRecord, UsageTotals
from aiusage_core._money import decimals, usd, usd_each
from aiusage_core._records import TotalsAccumulator

from ._format import by_model, calls_summary, count, plural
from ._spend import Call, spend_lines, spend_of

if TYPE_CHECKING:
    import pytest

__all__ = [
    "HARD",
    "LIMITS",
    "OUTPUT_CAP",
    "REFUSE_UNBOUNDED",
    "RULES",
    "Budget",
    "Limits",
    "ResolvedBudget",
    "Rules",
    "check_budget",
    "marker_layers",
    "marker_rules",
    "parse_limits",
    "parse_output_cap",
    "parse_spec",
    "parse_usd",
    "parse_whole",
    "unknown_costs",
]

LIMITS = ("usd", "tokens", "input_tokens", "output_tokens", "calls")
"""The limits a budget can set, in the order messages list them."""

HARD = "hard"
"""The ``ai_budget`` argument that makes the test's budget refuse calls before they are sent
(an ``aiusage_core.Budget`` on the test's context) instead of failing the test afterwards."""

OUTPUT_CAP = "output_cap"
"""The ``ai_budget`` argument giving the output tokens a hard budget reserves for a call whose
request sets no output cap (``aiusage_core.Budget(output_cap=...)``): a number, or a mapping
of model names to numbers (``"*"``: any other model)."""

REFUSE_UNBOUNDED = "refuse_unbounded"
"""The ``ai_budget`` argument that makes a hard budget refuse every call whose request does
not bound its worst case (``aiusage_core.Budget(refuse_unbounded=True)``)."""

RULES = (HARD, OUTPUT_CAP, REFUSE_UNBOUNDED)
"""The ``ai_budget`` arguments that are not limits: whether the budget refuses calls, and
how it bounds the calls whose requests do not bound themselves."""

Limits = Mapping[str, "Decimal | int | None"]
"""Limits given at one level (marker, command line, ini): a limit absent is not set there;
``None`` lifts it."""

_WHAT = {
    "usd": "cost",
    "tokens": "tokens",
    "input_tokens": "input tokens",
    "output_tokens": "output tokens",
    "calls": "calls",
}


def parse_usd(value: object, label: str) -> Decimal:
    """``value`` as a non-negative, finite number of dollars; ``label`` names it in errors
    (e.g. ``"--aiusage-max-usd"``)."""
    __tracebackhide__ = True  # an error points at the caller's line (e.g. a fixture helper)
    if isinstance(value, bool) or not isinstance(value, Decimal | int | float | str):
        raise ConfigurationError(
            f"{label}={value!r} must be a number of US dollars (a Decimal, int, float or "
            f"decimal string), not {type(value).__name__}",
            name=label,
            value=value,
        )
    try:
        amount = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except InvalidOperation:
        raise ConfigurationError(
            f"{label}={value!r} is not a number", name=label, value=value
        ) from None
    if not amount.is_finite() or amount < 0:
        raise ConfigurationError(
            f"{label}={value!r} must be a finite, non-negative number of US dollars",
            name=label,
            value=value,
        )
    return amount


def parse_whole(value: object, label: str) -> int:
    """``value`` as a non-negative whole number; ``label`` names it in errors."""
    __tracebackhide__ = True  # an error points at the caller's line (e.g. a fixture helper)
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise ConfigurationError(
            f"{label}={value!r} must be a whole number, not {type(value).__name__}",
            name=label,
            value=value,
        )
    if isinstance(value, int):
        number = value
    else:
        try:
            exact = Decimal(str(value).strip())
        except InvalidOperation:
            raise ConfigurationError(
                f"{label}={value!r} is not a number", name=label, value=value
            ) from None
        if not exact.is_finite() or exact != exact.to_integral_value():
            raise ConfigurationError(
                f"{label}={value!r} must be a finite whole number", name=label, value=value
            )
        number = int(exact)
    if number < 0:
        raise ConfigurationError(f"{label}={value!r} must not be negative", name=label, value=value)
    return number


def parse_output_cap(value: object, label: str) -> int | Mapping[str, int]:
    """``value`` as an ``output_cap``: a positive whole number, a mapping of model names to
    them (``"*"``: any other model), or either written as text (``"1000"``,
    ``"gpt-4o=4000, *=1000"``). ``label`` names it in errors."""
    __tracebackhide__ = True
    if isinstance(value, str) and "=" in value:
        caps: dict[str, object] = {}
        for part in re.split(r"[,\s]+", value.strip()):
            if not part:
                continue
            model, _, cap = part.partition("=")
            if not model or not cap:
                raise ConfigurationError(
                    f"{label}: {part!r} is not model=tokens (e.g. 'gpt-4o=4000, *=1000')",
                    name=label,
                    value=value,
                )
            if model in caps:
                raise ConfigurationError(
                    f"{label}: {model!r} is given twice", name=label, value=value
                )
            caps[model] = cap
        value = caps
    if isinstance(value, Mapping):
        checked: dict[str, int] = {}
        for model, cap in value.items():
            if not isinstance(model, str) or not model:
                raise ConfigurationError(
                    f"{label}: keys must be model names (or '*'), not {model!r}",
                    name=label,
                    value=value,
                )
            checked[model] = _positive(cap, f"{label}[{model!r}]")
        return MappingProxyType(checked)
    return _positive(value, label)


def _positive(value: object, label: str) -> int:
    __tracebackhide__ = True
    number = parse_whole(value, label)
    if number < 1:
        raise ConfigurationError(
            f"{label}={value!r} must be at least 1 (output tokens to assume for a call)",
            name=label,
            value=value,
        )
    return number


def parse_limits(limits: Mapping[str, object], where: str) -> dict[str, Decimal | int | None]:
    """Check the limits given at one level; ``where`` names it in error messages.

    Raises :class:`~aiusage_core.ConfigurationError` naming ``where`` and the argument.
    """
    parsed: dict[str, Decimal | int | None] = {}
    for name, value in limits.items():
        if name not in LIMITS:
            raise ConfigurationError(
                f"{where}: unknown limit {name!r}; expected one of {', '.join(LIMITS)}",
                name=name,
                value=value,
            )
        if value is None or (isinstance(value, str) and value.strip().lower() == "none"):
            parsed[name] = None
        elif name == "usd":
            parsed[name] = parse_usd(value, f"{where}: usd")
        else:
            parsed[name] = parse_whole(value, f"{where}: {name}")
    return parsed


def parse_spec(spec: str, where: str) -> dict[str, Decimal | int | None]:
    """Parse ``"usd=0.05, calls=10"`` (commas or spaces between limits) into limits."""
    raw: dict[str, str] = {}
    for part in re.split(r"[,\s]+", spec.strip()):
        if not part:
            continue
        name, sep, value = part.partition("=")
        if not sep or not name or not value:
            raise ConfigurationError(
                f"{where}: {part!r} is not limit=value (e.g. 'usd=0.05, calls=10')",
                name=name,
                value=spec,
            )
        if name in raw:
            raise ConfigurationError(f"{where}: {name!r} is given twice", name=name, value=spec)
        raw[name] = value
    return parse_limits(raw, where)


@dataclass(frozen=True, slots=True, kw_only=True)
class Budget:
    """Limits on the AI usage of one test; a limit of ``None`` is no limit.

    Every limit is inclusive: a test at exactly ``usd=0.01`` is within budget. ::

        Budget.parse("usd=0.05, calls=10").violations(ai_usage.totals)
    """

    usd: Decimal | None = None
    """Most the priced calls may cost, in US dollars."""
    tokens: int | None = None
    """Most input plus output tokens."""
    input_tokens: int | None = None
    """Most input tokens (cached ones included)."""
    output_tokens: int | None = None
    """Most output tokens (reasoning ones included)."""
    calls: int | None = None
    """Most calls."""

    def __post_init__(self) -> None:
        checked = parse_limits({n: getattr(self, n) for n in LIMITS}, "Budget")
        for name, value in checked.items():
            object.__setattr__(self, name, value)

    @classmethod
    def parse(cls, spec: str, *, where: str = "budget") -> Budget:
        """A budget from ``"usd=0.05, calls=10"``; ``where`` names the spec in errors."""
        return cls(**parse_spec(spec, where))  # type: ignore[arg-type]

    @property
    def is_empty(self) -> bool:
        """Whether no limit is set."""
        return all(getattr(self, n) is None for n in LIMITS)

    def violations(self, totals: UsageTotals) -> list[str]:
        """Each limit ``totals`` goes over, as ``"cost $0.00045 > limit $0.0004"``."""
        found = []
        for name in LIMITS:
            limit = getattr(self, name)
            if limit is None:
                continue
            measured = _measure(totals, name)
            if measured > limit:
                if name == "usd":
                    spent, most = usd_each([totals.cost_usd, limit])
                    found.append(f"cost {spent} > limit {most}")
                else:
                    found.append(f"{_WHAT[name]} {count(int(measured))} > limit {count(limit)}")
        return found

    def limits(self) -> dict[str, Decimal | int]:
        """The limits set, by name, in the order of :data:`LIMITS`."""
        return {n: getattr(self, n) for n in LIMITS if getattr(self, n) is not None}

    def exceeded(self, totals: UsageTotals) -> tuple[str, ...]:
        """The names of the limits ``totals`` goes over."""
        return tuple(n for n, limit in self.limits().items() if _measure(totals, n) > limit)

    def crossings(self, records: Sequence[UsageRecord]) -> dict[str, int]:
        """For each limit ``records`` go over: the index of the record whose call took the
        running total past it."""
        limits = self.limits()
        found: dict[str, int] = {}
        running = TotalsAccumulator()
        for index, record in enumerate(records):
            running.add(record)
            now = running.snapshot()
            for name, limit in limits.items():
                if name not in found and _measure(now, name) > limit:
                    found[name] = index
            if len(found) == len(limits):
                break
        return found

    def __str__(self) -> str:
        parts = []
        for name in LIMITS:
            value = getattr(self, name)
            if value is not None:
                parts.append(f"{name}={value}")
        return ", ".join(parts) or "no limits"


@dataclass(frozen=True, slots=True)
class ResolvedBudget:
    """A test's budget and, for each limit, where it was set (for messages)."""

    budget: Budget
    sources: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    hard: bool = False
    """Whether calls that would go over the budget are refused before they are sent."""
    output_cap: int | Mapping[str, int] | None = None
    """The output tokens a hard budget reserves for a call whose request sets no cap."""
    refuse_unbounded: bool = False
    """Whether a hard budget refuses the calls whose requests do not bound them."""

    def core_budget(self) -> CoreBudget:
        """The hard budget to put on the test's usage context."""
        return CoreBudget(
            **{name: getattr(self.budget, name) for name in LIMITS},
            output_cap=self.output_cap,
            refuse_unbounded=self.refuse_unbounded,
        )

    @classmethod
    def of_layers(cls, layers: list[tuple[str, Limits]]) -> ResolvedBudget:
        """Resolve limit by limit from ``(source, limits)`` layers, nearest first."""
        limits: dict[str, Decimal | int | None] = {}
        sources: dict[str, str] = {}
        for source, layer in layers:
            for name, value in layer.items():
                if name not in limits:
                    limits[name] = value
                    sources[name] = source
        budget = Budget(**limits)  # type: ignore[arg-type]
        kept = {name: src for name, src in sources.items() if limits[name] is not None}
        return cls(budget, MappingProxyType(kept))

    def describe_sources(self) -> str:
        """``usd from @pytest.mark.ai_budget on test_a.py::test_x; calls from ini ...``."""
        by_source: dict[str, list[str]] = {}
        for name in LIMITS:
            source = self.sources.get(name)
            if source is not None:
                by_source.setdefault(source, []).append(name)
        return "; ".join(f"{', '.join(names)} from {src}" for src, names in by_source.items())


def _measure(totals: UsageTotals, name: str) -> Decimal | int:
    if name == "usd":
        return totals.cost_usd
    if name == "tokens":
        return totals.total_tokens
    value: int = getattr(totals, name)
    return value


def _marker_source(nodeid: str, item: pytest.Item) -> tuple[str, str]:
    """``(source, where)`` of an ``ai_budget`` marker on the node ``nodeid`` applying to
    ``item``: the marker, and the marker with the test it applies to (for error messages)."""
    source = f"@pytest.mark.ai_budget on {nodeid}"
    return source, source if nodeid == item.nodeid else f"{source} (applying to {item.nodeid})"


def marker_layers(item: pytest.Item) -> list[tuple[str, Limits]]:
    """The limits of the ``ai_budget`` markers applying to ``item``, nearest first.

    Raises :class:`~aiusage_core.ConfigurationError` naming the test and the bad argument.
    """
    layers: list[tuple[str, Limits]] = []
    for node, mark in item.iter_markers_with_node("ai_budget"):
        source, where = _marker_source(node.nodeid, item)
        if mark.args:
            raise ConfigurationError(
                f"{where}: takes keyword arguments only ({', '.join(f'{n}=' for n in LIMITS)}), "
                f"got positional argument(s) {', '.join(repr(a) for a in mark.args)}",
                name="args",
                value=mark.args,
            )
        limits = {name: value for name, value in mark.kwargs.items() if name not in RULES}
        if not limits and not any(rule in mark.kwargs for rule in RULES):
            raise ConfigurationError(
                f"{where}: sets no limit; give at least one of {', '.join(LIMITS)}",
                name="kwargs",
                value={},
            )
        if limits:
            layers.append((source, parse_limits(limits, where)))
    return layers


@dataclass(frozen=True, slots=True)
class Rules:
    """The :data:`RULES` given by the ``ai_budget`` markers applying to a test: for each,
    the nearest marker's value and where it was given, or ``None`` when none gives it."""

    hard: tuple[bool, str] | None = None
    output_cap: tuple[int | Mapping[str, int] | None, str] | None = None
    refuse_unbounded: tuple[bool, str] | None = None


def _parse_rules(kwargs: Mapping[str, object], where: str) -> Rules:
    """The :data:`RULES` among one marker's arguments, checked (``where``: the marker)."""
    flags: dict[str, tuple[bool, str]] = {}
    for name in (HARD, REFUSE_UNBOUNDED):
        if name in kwargs:
            value = kwargs[name]
            if not isinstance(value, bool):
                raise ConfigurationError(
                    f"{where}: {name}={value!r} must be True or False", name=name, value=value
                )
            flags[name] = (value, where)
    cap = None
    if OUTPUT_CAP in kwargs:
        value = kwargs[OUTPUT_CAP]
        # None lifts an output_cap given further out (as a limit of None does).
        parsed = None if value is None else parse_output_cap(value, f"{where}: {OUTPUT_CAP}")
        cap = (parsed, where)
    return Rules(flags.get(HARD), cap, flags.get(REFUSE_UNBOUNDED))


def marker_rules(item: pytest.Item) -> Rules:
    """The :data:`RULES` the ``ai_budget`` markers applying to ``item`` give, each from the
    nearest marker that gives it (checked here, not by :func:`marker_layers`). Raises
    :class:`~aiusage_core.ConfigurationError` naming the marker and the bad argument."""
    hard = cap = refuse = None
    for node, mark in item.iter_markers_with_node("ai_budget"):
        rules = _parse_rules(mark.kwargs, _marker_source(node.nodeid, item)[1])
        hard = hard or rules.hard
        cap = cap or rules.output_cap
        refuse = refuse or rules.refuse_unbounded
    return Rules(hard, cap, refuse)


_UNPRICED_HINT = (
    "price the model with the pytest_aiusage_price hook or aiusage_core.configure(prices=...)"
)
_POLICY_HINT = "or pass --aiusage-unpriced=warn or ignore"
_NOT_REPORTED_HINT = (
    "the response carried no usage: a stream reports it only when asked, so wrap the client "
    "with wrap_openai(client, stream_usage=True) or pass "
    'stream_options={"include_usage": True}, and read the stream to its end'
)


def unknown_costs(records: Sequence[UsageRecord]) -> list[tuple[int, str, str]]:
    """Why some of ``records`` have no cost, as ``(calls, what, what to do)``: calls whose
    usage was not reported (a stream without its usage chunk), then calls without a known
    price. Empty when every record is priced."""
    not_reported = unpriced = 0
    for record in records:
        if record.cost_usd is None:
            if record.usage_status == "missing":
                not_reported += 1
            else:
                unpriced += 1
    found = []
    if not_reported:
        found.append((not_reported, "whose usage was not reported", _NOT_REPORTED_HINT))
    if unpriced:
        found.append((unpriced, "without a known price", _UNPRICED_HINT))
    return found


def spent_lines(budget: Budget, records: Sequence[UsageRecord], over: bool = True) -> list[str]:
    """What spent a test's money, grouped by operation and model, biggest first; when
    ``over``, the call that took it past each limit is marked on its group and described."""
    spend = spend_of(records)
    # The limits each crossing call took the test past, in the order of LIMITS.
    crossed: dict[int, list[str]] = {}
    for name, index in (budget.crossings(records) if over else {}).items():
        crossed.setdefault(index, []).append(name)
    calls = [
        (Call.of(index + 1, records[index]), _and([_WHAT[n] for n in LIMITS if n in names]))
        for index, names in sorted(crossed.items())
    ]
    marks: dict[tuple[str, str], list[str]] = {}
    for call, limits in calls:
        marks.setdefault((call.operation, call.model), []).append(
            f"call {call.number} crossed the {limits} limit"
        )
    places = decimals([*(s.totals.cost_usd for s in spend), *(c.cost_usd for c, _ in calls)])
    lines = ["spent by operation and model (biggest first):"]
    lines.extend(
        spend_lines(spend, marks={k: "; ".join(v) for k, v in marks.items()}, places=places)
    )
    if calls:
        lines.append("calls that crossed a limit:")
        lines.extend(f"  {limits}: {call.describe(places)}" for call, limits in calls)
    return lines


def _and(words: Sequence[str]) -> str:
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} and {words[-1]}"


def check_budget(
    resolved: ResolvedBudget,
    totals: UsageTotals,
    records: Callable[[], Sequence[UsageRecord]],
    unpriced: str,
) -> tuple[str | None, str | None]:
    """Check a test's usage: ``(failure message or None, warning or None)``.

    ``records`` gives the test's calls; it is only called when there is something to say.
    ``unpriced`` is the policy for calls without a cost under a usd limit (fail, warn,
    ignore), whether their usage was not reported or their model has no known price.
    """
    budget = resolved.budget
    over = budget.violations(totals)
    unverifiable = budget.usd is not None and totals.unpriced_calls > 0 and unpriced != "ignore"
    if not over and not unverifiable:
        return None, None
    recs = records()
    lines = []
    if over:
        lines.append(f"AI budget exceeded: {', '.join(over)}")
    warnings = []
    if unverifiable:
        calls = calls_summary(by_model(recs))
        for n, what, hint in unknown_costs(recs):
            text = (
                f"AI budget cannot be verified: {plural(n, 'call')} {what} under a cost limit "
                f"of {usd(budget.usd)} ({calls})"
            )
            if unpriced == "fail":
                lines.append(f"{text}; {hint}, {_POLICY_HINT}")
            else:
                warnings.append(text)
    warning = "; ".join(warnings) or None
    if not lines:
        return None, warning
    lines.extend(spent_lines(budget, recs, over=bool(over)))
    lines.append(f"budget: {budget} ({resolved.describe_sources()})")
    return "\n".join(lines), warning
