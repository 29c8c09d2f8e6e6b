"""Enforcing budgets: each tracked call reserves its worst case before it is sent.

The rule, for a call whose context has budgets above it (its own and its ancestors'):

1. Before the request leaves, the call's worst case (a :class:`CallEstimate` priced at the
   context's rates) is checked against every one of those budgets and, if it fits all of
   them, added to their *reserved* amounts, under one lock: concurrent calls in any threads
   or tasks see each other's reservations, so together they cannot reserve more than a
   limit allows. If it does not fit, a hard budget refuses the call (the request is never
   sent) and a soft one reports it and lets it go.
2. When the call's record is made, :func:`charge` adds what the call really cost to the
   budgets' *spent* amounts, then :meth:`Reservation.release` takes the reservation back. A
   call whose usage was never reported is charged its reservation, since what it cost is
   unknown.
3. Records made without a reservation (``record_usage``) are charged alike; one that takes a
   budget over its limit marks it *exceeded*, and every later call below it is refused.

Records of OpenAI calls are made in batches (:mod:`._delivery`), so a reservation may outlive
its call by a little; a call that does not fit first makes the waiting records, and so
frees their reservations, before it is refused.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from ._budget import LIMITS, Budget, BudgetAmounts
from ._config import _holder
from ._config import settings as _settings
from ._counts import COUNT_NAMES, ENCLOSING, Usage, make_usage
from ._delivery import _later, settle
from ._errors import BudgetExceededError
from ._estimate import CallEstimate
from ._money import decimals
from ._money import usd as _usd
from ._pricing import context_window
from ._records import money_add, money_multiply

if TYPE_CHECKING:
    from ._context import UsageContext
    from ._records import UsageRecord

__all__ = ["BudgetState", "Reservation", "charge", "reserve"]

logger = logging.getLogger("aiusage")

# One lock for every budget: a call reserves on all the budgets above it at once, so no
# interleaving of two calls can see money that the other one took.
_lock = threading.Lock()

_ZERO = Decimal(0)


class BudgetState:
    """The spent and reserved amounts of one entered context's budget (guarded by the lock).

    No ``__slots__``: the amounts start as class defaults, so making one (once per context
    with a budget) assigns only what differs.
    """

    usd: Decimal = _ZERO
    input: int = 0
    output: int = 0
    spent_calls: int = 0
    reserved_usd: Decimal = _ZERO
    reserved_input: int = 0
    reserved_output: int = 0
    reserved_calls: int = 0
    exceeded: str | None = None
    """The first limit that what was spent went over, or ``None``."""
    refusals: tuple[BudgetExceededError, ...] = ()
    """The calls this budget refused, oldest first (replaced, never mutated)."""

    def __init__(self, budget: Budget, context: UsageContext) -> None:
        self.budget = budget
        self.context = context
        self.limits = budget.limits

    @property
    def where(self) -> str:
        return "/".join(self.context.path)

    def _over(self) -> str | None:
        """The first limit the spent amounts go over (lock held). Runs once per record on
        every budget above it: only the limits set are looked at."""
        for name, limit in self.limits:
            if name == "usd":
                spent: Decimal | int = self.usd
            elif name == "calls":
                spent = self.spent_calls
            elif name == "tokens":
                spent = self.input + self.output
            elif name == "input_tokens":
                spent = self.input
            else:
                spent = self.output
            if spent > limit:
                return name
        return None

    def snapshot(self) -> tuple[BudgetAmounts, BudgetAmounts, BudgetAmounts, bool]:
        """``(spent, reserved, remaining, exceeded)``, after making waiting records."""
        if _later:
            settle()
        with _lock:
            spent = BudgetAmounts(
                self.usd, self.input + self.output, self.input, self.output, self.spent_calls
            )
            reserved = BudgetAmounts(
                self.reserved_usd,
                self.reserved_input + self.reserved_output,
                self.reserved_input,
                self.reserved_output,
                self.reserved_calls,
            )
            exceeded = self.exceeded is not None
        left: dict[str, Any] = {}
        for name in LIMITS:
            limit = getattr(self.budget, name)
            if limit is None:
                left[name] = None
            else:
                rest = limit - getattr(spent, name) - getattr(reserved, name)
                left[name] = rest if rest > 0 else type(rest)(0)
        return spent, reserved, BudgetAmounts(**left), exceeded


class _Worst:
    """A call's worst case under one budget's rules: ``None`` where it cannot be bounded,
    with the reason in ``why``."""

    __slots__ = ("input", "output", "usd", "why")

    def __init__(
        self, usd: Decimal | None, input: int | None, output: int | None, why: str
    ) -> None:
        self.usd = usd
        self.input = input
        self.output = output
        self.why = why

    def describe(self, money: Callable[[Decimal], str] = _usd) -> str:
        parts = []
        if self.usd is not None:
            parts.append(money(self.usd))
        if self.input is not None and self.output is not None:
            parts.append(f"input <= {self.input:,} tokens, output <= {self.output:,} tokens")
        return "; ".join(parts)


def _worst_cases(inputs: int, outputs: int) -> list[Usage]:
    """The counts to price for the worst case: all input and output plain first, then all of
    it of each kind the vocabulary prices apart (cache writes, 1h cache writes, audio, ...)."""
    totals = {"input_tokens": inputs, "output_tokens": outputs}
    cases = [make_usage("reported", totals)]
    for name in COUNT_NAMES:
        chain = ENCLOSING[name]
        if chain and chain[-1] in totals:
            whole = totals[chain[-1]]
            cases.append(
                make_usage("reported", {**totals, name: whole, **dict.fromkeys(chain, whole)})
            )
    return cases


_REFERENCE = 10_000_000
"""Token counts the worst rates are measured at: more than any context window, so a price
that grows with the prompt's length (genai-prices' tiered prices) is measured at its top."""

_WorstRate = tuple[Decimal, Decimal, Decimal] | None
"""Per request, per input token, per output token: the dearest of every variant."""


class _WorstRates:
    """The worst rates of each (provider, model, tier, batch), for the current pricer and
    UTC day (prices can change by date): measured once, then a call is priced with two
    multiplications."""

    __slots__ = ("lock", "pricer", "rates", "until")

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.pricer: object = None
        self.until = 0.0
        self.rates: dict[tuple[str, str, str, str | None, bool], _WorstRate] = {}

    def get(self, provider: str, model: str, api: str, tier: str | None, batch: bool) -> _WorstRate:
        pricer = (_holder.current or _settings()).pricer
        if pricer is not self.pricer or _time() >= self.until:
            with self.lock:
                self.rates = {}
                self.pricer = pricer
                self.until = (_time() // 86_400 + 1) * 86_400
        key = (provider, model, api, tier, batch)
        rate = self.rates.get(key, _UNMEASURED)
        if rate is _UNMEASURED:
            rate = self.rates[key] = _measure(pricer.price_usage, provider, model, api, tier, batch)
        return rate  # type: ignore[return-value]


def _measure(
    price: Callable[[str, str, str, str | None, bool, Usage], Decimal | None],
    provider: str,
    model: str,
    api: str,
    tier: str | None,
    batch: bool,
) -> _WorstRate:
    """The dearest rates of the ways a model's calls are priced, or ``None`` when unpriced.

    ``base + per_input * inputs + per_output * outputs`` bounds the cost of any call of up
    to ``_REFERENCE`` tokens of each, whatever kinds its tokens turn out to be (see
    :func:`_worst_cases`): a price linear in the counts is met exactly (for the dearest
    kind), and one that grows with the prompt's length (tiered) is measured at its top tier,
    output included.
    """
    r = _REFERENCE
    at_zero = price(model, provider, api, tier, batch, make_usage("reported", {}))
    if at_zero is None:
        return None  # the model has no price
    base = at_zero
    per_input = per_output = _ZERO
    inputs_only, both = _worst_cases(r, 0), _worst_cases(r, r)
    for index, (case_in, case_both) in enumerate(zip(inputs_only, both, strict=True)):
        at_input = price(model, provider, api, tier, batch, case_in)
        at_both = price(model, provider, api, tier, batch, case_both)
        if at_input is None or at_both is None:
            if index == 0:
                return None
            continue
        per_input = max(per_input, (at_input - at_zero) / r)
        per_output = max(per_output, (at_both - at_input) / r)
    return base, per_input, per_output


_worst_rates = _WorstRates()
_UNMEASURED = object()
_time = time.time


def _price(estimate: CallEstimate, inputs: int, outputs: int, batch: bool) -> Decimal | None:
    """The most ``inputs`` and ``outputs`` tokens can cost: all input uncached, at the
    dearest of the text, cache-write and audio rates (and of the default and requested
    service tiers)."""
    provider, model, api = estimate.provider, estimate.model, estimate.api
    rate = _worst_rates.get(provider, model, api, None, batch)
    if rate is None:
        return None
    base, per_input, per_output = rate
    worst: Decimal = money_add(
        base, money_add(money_multiply(per_input, inputs), money_multiply(per_output, outputs))
    )
    if estimate.service_tier is not None:
        rate = _worst_rates.get(provider, model, api, estimate.service_tier, batch)
        if rate is not None:
            base, per_input, per_output = rate
            cost = money_add(
                base,
                money_add(money_multiply(per_input, inputs), money_multiply(per_output, outputs)),
            )
            if cost > worst:
                worst = cost
    return worst


def worst_case(estimate: CallEstimate, budget: Budget, batch: bool) -> _Worst:
    """The most the call of ``estimate`` can use, under the rules of ``budget``."""
    cap = estimate.output_tokens
    if cap is not None and estimate.unbounded_input is None:
        # Most calls: the input is bounded by the request's text and the output is capped,
        # whatever the budget's rules (they only say what to do when it is not).
        capped = cap * estimate.choices
        priced = _price(estimate, estimate.input_tokens, capped, batch)
        if priced is not None:
            return _Worst(priced, estimate.input_tokens, capped, "")
    why = ""
    inputs: int | None = estimate.input_tokens
    window: int | None = None
    if estimate.unbounded_input is not None:
        if budget.refuse_unbounded:
            inputs = None
            why = (
                f"its input holds {estimate.unbounded_input}, which the request does not bound "
                "(refuse_unbounded=True)"
            )
        else:
            window = context_window(estimate.model, estimate.provider)
            if window is None:
                inputs = None
                why = (
                    f"its input holds {estimate.unbounded_input}, which the request does not "
                    f"bound, and the context window of {estimate.model!r} is unknown"
                )
            else:
                inputs = max(inputs or 0, window)
    outputs: int | None
    assumed = None if estimate.output_tokens is not None else budget.cap_for(estimate.model)
    if estimate.output_tokens is not None:
        outputs = estimate.output_tokens * estimate.choices
    elif assumed is not None:
        outputs = assumed * estimate.choices
    elif budget.refuse_unbounded:
        outputs = None
        why = why or (
            "the request sets no output cap (refuse_unbounded=True); set max_tokens, "
            "max_completion_tokens or max_output_tokens on the call"
        )
    else:
        if window is None:
            window = context_window(estimate.model, estimate.provider)
        if window is None:
            outputs = None
            why = why or (
                f"the request sets no output cap and the context window of {estimate.model!r} "
                "is unknown; set max_tokens, max_completion_tokens or max_output_tokens on the "
                "call, or Budget(output_cap=...)"
            )
        else:
            outputs = window * estimate.choices
    usd: Decimal | None = None
    if inputs is not None and outputs is not None:
        usd = _price(estimate, inputs, outputs, batch)
        if usd is None:
            why = (
                f"no price is known for {estimate.provider}/{estimate.model}; give it one with "
                "aiusage_core.configure(prices=...)"
            )
    return _Worst(usd, inputs, outputs, why)


def _worst_or_unknown(estimate: CallEstimate, budget: Budget, batch: bool) -> _Worst:
    """:func:`worst_case`, or (when working it out fails, which is logged) a worst case
    that cannot be bounded: a hard budget that limits cost or tokens then refuses the call
    rather than let it spend unchecked."""
    try:
        return worst_case(estimate, budget, batch)
    except Exception:
        logger.exception("aiusage: working out the worst case of a call failed")
        return _Worst(
            None, None, None, "working out its worst case failed (logged on the aiusage logger)"
        )


def _misfit(state: BudgetState, worst: _Worst) -> tuple[str, Any, Any, Any] | None:
    """``(limit, allowed, spent, reserved)`` of the first limit the call does not fit in
    (lock held), or ``None`` when it fits. Runs once per call on every budget above it."""
    if state.exceeded is not None:
        name = state.exceeded
        spent, reserved = _figures(state, name)
        return name, getattr(state.budget, name), spent, reserved
    need: Decimal | int | None
    for name, allowed in state.limits:
        if name == "usd":
            spent, reserved, need = state.usd, state.reserved_usd, worst.usd
        elif name == "calls":
            spent, reserved, need = state.spent_calls, state.reserved_calls, 1
        elif name == "input_tokens":
            spent, reserved, need = state.input, state.reserved_input, worst.input
        elif name == "output_tokens":
            spent, reserved, need = state.output, state.reserved_output, worst.output
        else:
            spent, reserved = _figures(state, name)
            need = (
                None if worst.input is None or worst.output is None else worst.input + worst.output
            )
        if need is None or spent + reserved + need > allowed:
            return name, allowed, spent, reserved
    return None


def _figures(state: BudgetState, name: str) -> tuple[Any, Any]:
    if name == "usd":
        return state.usd, state.reserved_usd
    if name == "calls":
        return state.spent_calls, state.reserved_calls
    if name == "input_tokens":
        return state.input, state.reserved_input
    if name == "output_tokens":
        return state.output, state.reserved_output
    return state.input + state.output, state.reserved_input + state.reserved_output


def _refusal(
    state: BudgetState, misfit: tuple[str, Any, Any, Any], worst: _Worst, call: str
) -> BudgetExceededError:
    name, allowed, spent, reserved = misfit
    where = state.where
    # Every amount of one message with the same decimals (see aiusage_core._money).
    # (Under another limit, the worst case's dollars are written with the decimals they need.)
    places = decimals([allowed, spent, reserved, worst.usd]) if name == "usd" else None

    def money(amount: Decimal) -> str:
        return _usd(amount, places)

    def figure(value: Any) -> str:
        return money(value) if name == "usd" else f"{value:,}"

    figures = f"spent {figure(spent)}, reserved by calls in flight {figure(reserved)}"
    if state.exceeded is not None:
        reason = f"the budget is already exceeded: {name} limit {figure(allowed)}"
        requested = None
    else:
        requested = {
            "usd": worst.usd,
            "calls": 1,
            "input_tokens": worst.input,
            "output_tokens": worst.output,
            "tokens": None
            if worst.input is None or worst.output is None
            else worst.input + worst.output,
        }[name]
        if name == "calls":
            reason = f"one more call does not fit the calls limit {allowed:,}"
        elif requested is None:
            reason = (
                f"its worst case cannot be bounded under the {name} limit "
                f"{figure(allowed)}: {worst.why}"
            )
        else:
            reason = (
                f"its worst case ({worst.describe(money)}) does not fit the {name} limit "
                f"{figure(allowed)}"
            )
    verb = "refused" if state.budget.hard else "would refuse (soft budget: sent anyway)"
    message = (
        f"AI budget of context {where!r} {verb} a call before sending it ({call}): "
        f"{reason}; {figures}"
    )
    return BudgetExceededError(
        message,
        limit=name,
        measured=None if requested is None else spent + reserved + requested,
        allowed=allowed,
        context=where,
        spent=spent,
        reserved=reserved,
        requested=requested,
        call=call,
    )


class Reservation:
    """What one call reserved on each budget above it; released once, when its record is
    made."""

    __slots__ = ("_open", "amounts")

    def __init__(self, amounts: list[tuple[BudgetState, Decimal, int, int]]) -> None:
        self.amounts = amounts
        self._open = [True]  # list.pop() is atomic: whoever pops releases

    def release(self, record: UsageRecord | None) -> None:
        """Take the reservation back once ``record`` (the call's record, already charged)
        is made; ``None`` when the call made no record. A call whose usage is unknown is
        charged what it reserved. Never raises."""
        try:
            self._open.pop()
        except IndexError:
            return
        unknown_usage = record is None or record.usage_status == "missing"
        unknown_cost = unknown_usage or record is None or record.cost_usd is None
        if not unknown_cost:
            # The common case: the record was charged in full already (see charge()).
            with _lock:
                for state, usd, inputs, outputs in self.amounts:
                    _unreserve(state, usd, inputs, outputs)
            return
        newly_over: list[BudgetState] = []
        with _lock:
            for state, usd, inputs, outputs in self.amounts:
                _unreserve(state, usd, inputs, outputs)
                if unknown_cost:
                    state.usd += usd
                if unknown_usage:
                    state.input += inputs
                    state.output += outputs
                if record is None:
                    state.spent_calls += 1
                if state.exceeded is None:
                    state.exceeded = state._over()
                    if state.exceeded is not None:
                        newly_over.append(state)
        _warn_over(newly_over)

    def cancel(self) -> None:
        """Take the reservation back without charging anything (the call was not sent)."""
        try:
            self._open.pop()
        except IndexError:
            return
        with _lock:
            for state, usd, inputs, outputs in self.amounts:
                _unreserve(state, usd, inputs, outputs)


def _unreserve(state: BudgetState, usd: Decimal, inputs: int, outputs: int) -> None:
    """Take one call's reservation off ``state`` (lock held)."""
    state.reserved_usd -= usd
    if not state.reserved_usd:
        state.reserved_usd = _ZERO  # not 0E-8: what is left of a sum of amounts
    state.reserved_input -= inputs
    state.reserved_output -= outputs
    state.reserved_calls -= 1


def _warn_over(states: list[BudgetState]) -> None:
    for state in states:
        logger.warning(
            "aiusage: the budget of context %r (%s) is exceeded (%s); later calls below it are %s",
            state.where,
            state.budget,
            state.exceeded,
            "refused" if state.budget.hard else "reported (soft budget)",
        )


def charge(states: tuple[BudgetState, ...], record: UsageRecord) -> None:
    """Add what ``record`` cost to ``states`` (the budgets above its context)."""
    cost = record.cost_usd
    newly_over: list[BudgetState] = []
    with _lock:
        for state in states:
            if cost is not None:
                state.usd += cost
            state.input += record.input_tokens
            state.output += record.output_tokens
            state.spent_calls += 1
            if state.exceeded is None:
                state.exceeded = state._over()
                if state.exceeded is not None:
                    newly_over.append(state)
    _warn_over(newly_over)


def reserve(context: UsageContext, estimate: CallEstimate) -> Reservation:
    """Reserve the worst case of ``estimate`` on every budget above ``context`` (which has
    some), or raise :class:`BudgetExceededError` without reserving anything.

    A soft budget the call does not fit is told (``on_exceed``) after the reservation is
    made; a function given as ``on_exceed`` that raises refuses the call after all.
    """
    states: tuple[BudgetState, ...] = context._budgets
    batch = context.batch
    # (state, the call's worst case under its rules), innermost first: a refusal names the
    # nearest budget that refuses. Budgets with the same rules share one worst case.
    innermost = states[-1]
    worst = _worst_or_unknown(estimate, innermost.budget, batch)
    pairs: list[tuple[BudgetState, _Worst]] = [(innermost, worst)]
    if len(states) > 1:
        rules = innermost.budget.rules
        worsts = {rules: worst}
        for state in reversed(states[:-1]):
            rules = state.budget.rules
            found = worsts.get(rules)
            if found is None:
                found = worsts[rules] = _worst_or_unknown(estimate, state.budget, batch)
            pairs.append((state, found))
    # The common case first: the call fits every budget (one pass under the lock).
    with _lock:
        for state, worst in pairs:
            if _misfit(state, worst) is not None:
                break
        else:
            return _take(pairs)
    return _reserve_or_refuse(pairs, estimate)


def _take(pairs: list[tuple[BudgetState, _Worst]]) -> Reservation:
    """Add each worst case to its budget's reserved amounts (lock held)."""
    amounts = []
    for state, worst in pairs:
        usd, inputs, outputs = worst.usd or _ZERO, worst.input or 0, worst.output or 0
        state.reserved_usd += usd
        state.reserved_input += inputs
        state.reserved_output += outputs
        state.reserved_calls += 1
        amounts.append((state, usd, inputs, outputs))
    return Reservation(amounts)


def _reserve_or_refuse(
    pairs: list[tuple[BudgetState, _Worst]], estimate: CallEstimate
) -> Reservation:
    """:func:`reserve` for a call that did not fit some budget at first look: make the
    waiting records (their calls ended, their reservations may be freed), look again, then
    refuse (hard budget) or reserve and tell (soft budgets)."""
    for attempt in (1, 2):
        soft: list[tuple[BudgetState, tuple[str, Any, Any, Any], _Worst]] = []
        hard: tuple[BudgetState, tuple[str, Any, Any, Any], _Worst] | None = None
        retry = False
        with _lock:
            for state, worst in pairs:
                misfit = _misfit(state, worst)
                if misfit is not None:
                    if state.budget.on_exceed == "raise":
                        hard = (state, misfit, worst)
                        break
                    soft.append((state, misfit, worst))
            if (hard is not None or soft) and attempt == 1 and _later:
                retry = True
            elif hard is None:
                reservation = _take(pairs)
        if retry:
            settle()  # calls that ended may still hold reservations: make their records
            continue
        if hard is None:
            break
        state, misfit, worst = hard
        error = _refusal(state, misfit, worst, estimate.describe())
        with _lock:
            state.refusals = (*state.refusals, error)
        raise error
    for state, misfit, worst in soft:
        error = _refusal(state, misfit, worst, estimate.describe())
        _tell(state.budget.on_exceed, error, reservation)
    return reservation


def _tell(
    on_exceed: str | Callable[[BudgetExceededError], object],
    error: BudgetExceededError,
    reservation: Reservation,
) -> None:
    if callable(on_exceed):
        try:
            on_exceed(error)
        except BaseException:
            reservation.cancel()
            raise
    else:
        logger.warning("aiusage: %s (soft budget: the call is sent anyway)", error)
