"""Budgets on usage contexts: :class:`Budget` (the limits and how they are enforced) and
:class:`BudgetStatus` (a read-only view of what a context's budget has left).

The enforcement itself (reserving a call's worst case before it is sent) lives in
:mod:`._reservations`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from types import MappingProxyType
from typing import TYPE_CHECKING, Literal

from ._errors import BudgetExceededError, ConfigurationError

if TYPE_CHECKING:
    from ._reservations import BudgetState

__all__ = ["LIMITS", "Budget", "BudgetAmounts", "BudgetStatus", "OnExceed"]

LIMITS = ("usd", "tokens", "input_tokens", "output_tokens", "calls")
"""The limits a budget can set, in the order messages list them."""

OnExceed = Literal["raise", "warn"] | Callable[[BudgetExceededError], object]
"""What a budget does with a call that does not fit: refuse it, log a warning and send it, or
call a function with the :class:`BudgetExceededError` (the call is sent unless it raises)."""


def _usd(value: object) -> Decimal | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, Decimal | int | float | str):
        raise ConfigurationError(
            f"Budget(usd={value!r}) must be a Decimal, int, float or decimal string, not "
            f"{type(value).__name__}",
            name="usd",
            value=value,
        )
    try:
        amount = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except InvalidOperation:
        raise ConfigurationError(
            f"Budget(usd={value!r}) is not a number", name="usd", value=value
        ) from None
    if not amount.is_finite() or amount < 0:
        raise ConfigurationError(
            f"Budget(usd={value!r}) must be a finite, non-negative number of US dollars",
            name="usd",
            value=value,
        )
    return amount


def _whole(name: str, value: object, *, positive: bool = False) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < (1 if positive else 0):
        raise ConfigurationError(
            f"Budget({name}={value!r}) must be a {'positive' if positive else 'non-negative'} "
            "int or None",
            name=name,
            value=value,
        )
    return value


def _output_cap(value: object) -> int | Mapping[str, int] | None:
    """``output_cap`` checked: ``None``, a positive int, or a read-only copy of a mapping of
    model names (``"*"``: any other model) to positive ints."""
    if not isinstance(value, Mapping):
        return _whole("output_cap", value, positive=True)
    caps: dict[str, int] = {}
    for model, cap in value.items():
        if not isinstance(model, str) or not model:
            raise ConfigurationError(
                f"Budget(output_cap=...) keys must be model names (or '*'), not {model!r}",
                name="output_cap",
                value=value,
            )
        if isinstance(cap, bool) or not isinstance(cap, int) or cap < 1:
            raise ConfigurationError(
                f"Budget(output_cap=...)[{model!r}] must be a positive int, not {cap!r}",
                name="output_cap",
                value=value,
            )
        caps[model] = cap
    return MappingProxyType(caps)


@dataclass(frozen=True, slots=True, kw_only=True)
class Budget:
    """Limits on what a usage context (with everything below it) may spend.

    ::

        with ai_usage_context("nightly_job", budget=Budget(usd="0.50", calls=200)):
            run_job(client)   # a call that would take the job over $0.50 is never sent

    Every tracked call below the context first reserves its worst case (see the budgets page
    of the docs) and is refused with :class:`BudgetExceededError`, before its request is
    sent, when that does not fit. Limits are inclusive; ``None`` is no limit. The same
    ``Budget`` may be given to many contexts: each one that is entered counts its own spend
    (so ``@ai_usage_tracked(budget=...)`` limits each call of the function).
    """

    usd: Decimal | None = None
    """Most the calls may cost, in US dollars (a ``Decimal``, int, float or decimal string)."""
    tokens: int | None = None
    """Most input plus output tokens."""
    input_tokens: int | None = None
    """Most input tokens (cached ones included)."""
    output_tokens: int | None = None
    """Most output tokens (reasoning ones included)."""
    calls: int | None = None
    """Most calls."""
    on_exceed: OnExceed = "raise"
    """``"raise"`` (a hard budget: refuse the call), ``"warn"`` (a soft one: log a warning on
    the ``aiusage`` logger and send it), or a function called with the
    :class:`BudgetExceededError`: the call is sent when it returns, refused when it raises."""
    output_cap: int | Mapping[str, int] | None = field(default=None, hash=False)
    """Output tokens to assume for a call whose request sets no output cap: one number for
    every model, or a mapping of model names (as requested) to numbers, where ``"*"`` stands
    for any other model. A model it gives no number: its context window (genai-prices'
    data), or refusal when that is unknown or ``refuse_unbounded`` is set."""
    refuse_unbounded: bool = False
    """Refuse every call whose worst case the request does not bound by itself (no output
    cap and no ``output_cap``; images, files or previous responses in its input) instead of
    assuming the model's context window for it."""
    limits: tuple[tuple[str, Decimal | int], ...] = field(
        init=False, repr=False, compare=False, hash=False
    )
    """``(name, limit)`` of the limits set, in the order of ``LIMITS`` (derived)."""
    rules: tuple[object, bool] = field(init=False, repr=False, compare=False, hash=False)
    """How the budget bounds a call (``output_cap``, ``refuse_unbounded``), hashable:
    budgets with the same rules give a call the same worst case (derived)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "usd", _usd(self.usd))
        for name in ("tokens", "input_tokens", "output_tokens", "calls"):
            object.__setattr__(self, name, _whole(name, getattr(self, name)))
        cap = _output_cap(self.output_cap)
        object.__setattr__(self, "output_cap", cap)
        if self.on_exceed not in ("raise", "warn") and not callable(self.on_exceed):
            raise ConfigurationError(
                f"Budget(on_exceed={self.on_exceed!r}) must be 'raise', 'warn' or a function",
                name="on_exceed",
                value=self.on_exceed,
            )
        if not isinstance(self.refuse_unbounded, bool):
            raise ConfigurationError(
                f"Budget(refuse_unbounded={self.refuse_unbounded!r}) must be True or False",
                name="refuse_unbounded",
                value=self.refuse_unbounded,
            )
        set_limits = tuple((n, v) for n in LIMITS if (v := getattr(self, n)) is not None)
        object.__setattr__(self, "limits", set_limits)
        cap_key = tuple(sorted(cap.items())) if isinstance(cap, Mapping) else cap
        object.__setattr__(self, "rules", (cap_key, self.refuse_unbounded))

    def cap_for(self, model: str) -> int | None:
        """The output tokens ``output_cap`` assumes for an uncapped call to ``model``, or
        ``None`` when it gives none."""
        cap = self.output_cap
        if cap is None or isinstance(cap, int):
            return cap
        found = cap.get(model)
        return cap.get("*") if found is None else found

    @property
    def hard(self) -> bool:
        """Whether the budget refuses calls (``on_exceed="raise"``)."""
        return self.on_exceed == "raise"

    def __str__(self) -> str:
        parts = [
            f"{name}={getattr(self, name)}" for name in LIMITS if getattr(self, name) is not None
        ]
        return ", ".join(parts) or "no limits"


@dataclass(frozen=True, slots=True)
class BudgetAmounts:
    """Amounts of each limit of a budget (``None``: the limit is not set, for
    :attr:`BudgetStatus.remaining`)."""

    usd: Decimal | None
    """US dollars."""
    tokens: int | None
    """Input plus output tokens."""
    input_tokens: int | None
    """Input tokens."""
    output_tokens: int | None
    """Output tokens."""
    calls: int | None
    """Calls."""


class BudgetStatus:
    """A read-only view of the budget of one context, as it stands when read::

        with ai_usage_context("job", budget=Budget(usd="0.50")) as usage:
            ...
            print(usage.budget.remaining.usd, usage.budget.reserved.usd, usage.budget.exceeded)

    Reading it first makes the records of calls that ended (see ``aiusage_core.flush``), so
    their reservations have become what they cost.
    """

    __slots__ = ("_state",)

    def __init__(self, state: BudgetState) -> None:
        self._state = state

    @property
    def budget(self) -> Budget:
        """The limits."""
        return self._state.budget

    @property
    def spent(self) -> BudgetAmounts:
        """What the calls that ended have cost (a call whose usage was never reported
        counts its reservation)."""
        return self._state.snapshot()[0]

    @property
    def reserved(self) -> BudgetAmounts:
        """What calls in flight have reserved (their worst cases)."""
        return self._state.snapshot()[1]

    @property
    def remaining(self) -> BudgetAmounts:
        """What is left of each limit after spent and reserved amounts (never below zero;
        ``None`` for a limit that is not set)."""
        return self._state.snapshot()[2]

    @property
    def exceeded(self) -> bool:
        """Whether what was spent went over a limit (a hand-made record or a call that used
        more than its reservation): every later call below the context is refused (or, in a
        soft budget, reported)."""
        return self._state.snapshot()[3]

    @property
    def refused(self) -> tuple[BudgetExceededError, ...]:
        """The calls this budget refused, oldest first (their errors)."""
        return self._state.refusals

    def __repr__(self) -> str:
        spent, reserved, remaining, exceeded = self._state.snapshot()
        return (
            f"<BudgetStatus {self.budget} spent_usd={spent.usd} reserved_usd={reserved.usd} "
            f"remaining_usd={remaining.usd} exceeded={exceeded}>"
        )
