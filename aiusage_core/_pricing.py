"""Pricing: genai-prices' bundled data, user overrides, and a per-model rate cache.

genai-prices' ``calc_price`` costs tens of microseconds a call, most of it spent resolving the
model and walking its unit registry. Prices of a (provider, model, tier, batch) are linear in
the token counts, so we resolve each once a day, derive a per-token coefficient for every
count a record carries, and price with a handful of ``Decimal`` multiplications. Models whose
prices are tiered (by prompt length) keep going through genai-prices on every call.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    # genai-prices takes ~0.15 s to import: load it on the first price lookup, not with us.
    import genai_prices
    from genai_prices.types import ModelPrice

from ._errors import ConfigurationError
from ._records import MONEY, money_add, money_multiply

__all__ = ["CustomPrice", "PriceQuery", "PriceResolver", "Pricer", "context_window"]

logger = logging.getLogger("aiusage")

_MTOK = Decimal(1_000_000)
_DEFAULT_TIERS = frozenset({"", "default", "auto", "standard"})


@dataclass(frozen=True, slots=True, kw_only=True)
class PriceQuery:
    """Everything known about a call when it is priced."""

    model: str
    """The model to price (the response's model when known)."""
    provider: str
    """The provider, as genai-prices names it."""
    api: str
    """The API called (``chat``, ``embeddings``, ``responses``, ...)."""
    input_tokens: int = 0
    """Input tokens, including cached and cache-write ones."""
    cached_input_tokens: int = 0
    """Input tokens read from the cache."""
    cache_write_tokens: int = 0
    """Input tokens written to the cache."""
    output_tokens: int = 0
    """Output tokens, including reasoning ones."""
    reasoning_tokens: int = 0
    """Reasoning tokens."""
    input_audio_tokens: int = 0
    """Audio input tokens."""
    output_audio_tokens: int = 0
    """Audio output tokens."""
    service_tier: str | None = None
    """The service tier that served the call."""
    batch: bool = False
    """Whether Batch API rates apply."""


PriceResolver = Callable[[PriceQuery], "Decimal | None"]
"""A function consulted before the price tables; ``None`` means "no opinion"."""


def _money(value: object, *, model: str, name: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, Decimal | int | float | str):
        raise ConfigurationError(
            f"price override for {model!r}: {name} must be a number or decimal string, "
            f"not {type(value).__name__} ({value!r})",
            name=name,
            value=value,
        )
    try:
        amount = Decimal(str(value)) if not isinstance(value, Decimal) else value
    except InvalidOperation:
        raise ConfigurationError(
            f"price override for {model!r}: {name}={value!r} is not a number",
            name=name,
            value=value,
        ) from None
    if not amount.is_finite() or amount < 0:
        raise ConfigurationError(
            f"price override for {model!r}: {name}={value!r} must be finite and non-negative",
            name=name,
            value=value,
        )
    return amount


@dataclass(frozen=True, slots=True, kw_only=True)
class CustomPrice:
    """Prices in US dollars per million tokens for a model genai-prices does not know.

    >>> CustomPrice(input_mtok="0.30", output_mtok="1.20", cached_input_mtok="0.15")
    ... # doctest: +SKIP
    """

    input_mtok: Decimal
    """Price per million uncached input tokens."""
    output_mtok: Decimal
    """Price per million output tokens (reasoning tokens included)."""
    cached_input_mtok: Decimal | None = None
    """Price per million cached input tokens; defaults to ``input_mtok``."""
    cache_write_mtok: Decimal | None = None
    """Price per million cache-write input tokens; defaults to ``input_mtok``."""
    batch_multiplier: Decimal = field(default=Decimal("0.5"))
    """Factor applied to the whole cost at Batch API rates (OpenAI's batch discount is 50%)."""

    def __post_init__(self) -> None:
        # Accept numbers and decimal strings, as the mapping form does; reject bad values now.
        for name in (
            "input_mtok",
            "output_mtok",
            "cached_input_mtok",
            "cache_write_mtok",
            "batch_multiplier",
        ):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, _money(value, model="CustomPrice", name=name))

    @classmethod
    def parse(cls, model: str, value: CustomPrice | Mapping[str, Any]) -> CustomPrice:
        """Build from a mapping such as ``{"input_mtok": "0.3", "output_mtok": "1.2"}``."""
        if isinstance(value, CustomPrice):
            return value
        if not isinstance(value, Mapping):
            raise ConfigurationError(
                f"price override for {model!r} must be a CustomPrice or a mapping, "
                f"not {type(value).__name__}",
                name=model,
                value=value,
            )
        known = {
            "input_mtok",
            "output_mtok",
            "cached_input_mtok",
            "cache_write_mtok",
            "batch_multiplier",
        }
        unknown = sorted(set(value) - known)
        if unknown:
            raise ConfigurationError(
                f"price override for {model!r}: unknown field(s) {', '.join(unknown)}; "
                f"expected {', '.join(sorted(known))}",
                name=unknown[0],
                value=value,
            )
        for required in ("input_mtok", "output_mtok"):
            if required not in value:
                raise ConfigurationError(
                    f"price override for {model!r} needs {required}", name=required, value=value
                )
        return cls(**{k: _money(v, model=model, name=k) for k, v in value.items()})

    def cost(self, query: PriceQuery) -> Decimal:
        """The cost of ``query`` at these prices."""
        cached = self.cached_input_mtok if self.cached_input_mtok is not None else self.input_mtok
        write = self.cache_write_mtok if self.cache_write_mtok is not None else self.input_mtok
        uncached = max(query.input_tokens - query.cached_input_tokens - query.cache_write_tokens, 0)
        total = MONEY.add(
            MONEY.add(
                MONEY.multiply(self.input_mtok, uncached),
                MONEY.multiply(cached, query.cached_input_tokens),
            ),
            MONEY.add(
                MONEY.multiply(write, query.cache_write_tokens),
                MONEY.multiply(self.output_mtok, query.output_tokens),
            ),
        )
        if query.batch:
            total = MONEY.multiply(total, self.batch_multiplier)
        return MONEY.divide(total, _MTOK)


@dataclass(frozen=True, slots=True)
class _LinearRate:
    """Dollars per token of each count (deltas relative to the enclosing count), and a fixed
    per-request price. Per-token prices are exact decimals (list prices / 10**6)."""

    per_request: Decimal
    input: Decimal
    cached_delta: Decimal
    cache_write_delta: Decimal
    output: Decimal
    reasoning_delta: Decimal
    input_audio_delta: Decimal
    output_audio_delta: Decimal

    def cost(self, q: PriceQuery) -> Decimal:
        return self.cost_of(
            q.input_tokens,
            q.cached_input_tokens,
            q.cache_write_tokens,
            q.output_tokens,
            q.reasoning_tokens,
            q.input_audio_tokens,
            q.output_audio_tokens,
        )

    def cost_of(
        self,
        input_tokens: int,
        cached_input_tokens: int,
        cache_write_tokens: int,
        output_tokens: int,
        reasoning_tokens: int,
        input_audio_tokens: int,
        output_audio_tokens: int,
    ) -> Decimal:
        add, mul = money_add, money_multiply
        total = add(mul(self.input, input_tokens), mul(self.output, output_tokens))
        if cached_input_tokens:
            total = add(total, mul(self.cached_delta, cached_input_tokens))
        if cache_write_tokens:
            total = add(total, mul(self.cache_write_delta, cache_write_tokens))
        if reasoning_tokens:
            total = add(total, mul(self.reasoning_delta, reasoning_tokens))
        if input_audio_tokens:
            total = add(total, mul(self.input_audio_delta, input_audio_tokens))
        if output_audio_tokens:
            total = add(total, mul(self.output_audio_delta, output_audio_tokens))
        if self.per_request:
            return add(total, self.per_request)
        return total


def _genai_usage(q: PriceQuery) -> genai_prices.Usage:
    import genai_prices

    values: dict[str, int] = {"input_tokens": q.input_tokens, "output_tokens": q.output_tokens}
    for key, count in (
        ("cache_read_tokens", q.cached_input_tokens),
        ("cache_write_tokens", q.cache_write_tokens),
        ("output_reasoning_tokens", q.reasoning_tokens),
        ("input_audio_tokens", q.input_audio_tokens),
        ("output_audio_tokens", q.output_audio_tokens),
    ):
        if count:
            values[key] = count
    return genai_prices.Usage(**values)


def _linearise(model_price: ModelPrice) -> _LinearRate | None:
    """Derive per-count coefficients by pricing one million of each count, or ``None``."""
    import genai_prices
    from genai_prices.types import TieredPrices

    if any(isinstance(v, TieredPrices) for v in vars(model_price).values()):
        return None

    def at(**counts: int) -> Decimal:
        return model_price.calc_price(genai_prices.Usage(**counts))["total_price"]

    m = 1_000_000
    base = at()
    inp = at(input_tokens=m) - base
    out = at(output_tokens=m) - base

    def per_token(amount: Decimal) -> Decimal:
        return MONEY.divide(amount, _MTOK)

    return _LinearRate(
        per_request=base,
        input=per_token(inp),
        cached_delta=per_token(at(input_tokens=m, cache_read_tokens=m) - base - inp),
        cache_write_delta=per_token(at(input_tokens=m, cache_write_tokens=m) - base - inp),
        output=per_token(out),
        reasoning_delta=per_token(at(output_tokens=m, output_reasoning_tokens=m) - base - out),
        input_audio_delta=per_token(at(input_tokens=m, input_audio_tokens=m) - base - inp),
        output_audio_delta=per_token(at(output_tokens=m, output_audio_tokens=m) - base - out),
    )


_DAY = 86_400.0
_RateKey = tuple[str, str, str, bool]  # provider, model, service tier ("" = default), batch


def _tier_key(service_tier: str | None) -> str:
    tier = service_tier.lower() if service_tier else ""
    return "" if tier in _DEFAULT_TIERS else tier


class Pricer:
    """Prices queries: resolver first, then overrides, then genai-prices. Thread-safe."""

    def __init__(
        self,
        overrides: Mapping[str, CustomPrice | Mapping[str, Any]] | None = None,
        resolver: PriceResolver | None = None,
    ) -> None:
        self.overrides: dict[str, CustomPrice] = {
            model: CustomPrice.parse(model, price) for model, price in (overrides or {}).items()
        }
        self.resolver = resolver
        # Prices can change by date (genai-prices' conditional prices), so resolved rates are
        # kept for one UTC day: the dict is replaced (never cleared) when the day ends, and a
        # lookup stores into the dict it started with, so a rate never outlives its day.
        self._rates: dict[_RateKey, _LinearRate | ModelPrice | None] = {}
        self._rates_until = 0.0  # time.time() when _rates expires: the next UTC midnight
        self._warned: set[tuple[str, str]] = set()
        self._lock = threading.Lock()

    def _todays_rates(self) -> dict[_RateKey, _LinearRate | ModelPrice | None]:
        now = time.time()
        if now >= self._rates_until:
            with self._lock:
                if now >= self._rates_until:
                    # Replace the dict before moving the deadline: a reader that sees the
                    # new deadline then sees the new dict.
                    self._rates = {}
                    self._rates_until = (now // _DAY + 1) * _DAY
        return self._rates

    def price_counts(
        self,
        model: str,
        provider: str,
        api: str,
        service_tier: str | None,
        batch: bool,
        input_tokens: int,
        cached_input_tokens: int,
        cache_write_tokens: int,
        output_tokens: int,
        reasoning_tokens: int,
        input_audio_tokens: int,
        output_audio_tokens: int,
    ) -> Decimal | None:
        """Like :meth:`price`, without building a :class:`PriceQuery` on the common path.

        This is the per-call hot path: a cached linear rate and a few multiplications. Its
        common case (input and output tokens only) is written out here rather than calling
        :meth:`_LinearRate.cost_of`, which gives the same result: a call costs a tenth of it.
        """
        if self.resolver is None and not self.overrides:
            rates = self._rates if time.time() < self._rates_until else self._todays_rates()
            rate = rates.get(
                (provider, model, "" if service_tier is None else _tier_key(service_tier), batch)
            )
            if type(rate) is _LinearRate:
                if (
                    cached_input_tokens
                    or cache_write_tokens
                    or reasoning_tokens
                    or input_audio_tokens
                    or output_audio_tokens
                ):
                    return rate.cost_of(
                        input_tokens,
                        cached_input_tokens,
                        cache_write_tokens,
                        output_tokens,
                        reasoning_tokens,
                        input_audio_tokens,
                        output_audio_tokens,
                    )
                total = money_add(
                    money_multiply(rate.input, input_tokens),
                    money_multiply(rate.output, output_tokens),
                )
                return money_add(total, rate.per_request) if rate.per_request else total
        return self.price(
            PriceQuery(
                model=model,
                provider=provider,
                api=api,
                input_tokens=input_tokens,
                cached_input_tokens=cached_input_tokens,
                cache_write_tokens=cache_write_tokens,
                output_tokens=output_tokens,
                reasoning_tokens=reasoning_tokens,
                input_audio_tokens=input_audio_tokens,
                output_audio_tokens=output_audio_tokens,
                service_tier=service_tier,
                batch=batch,
            )
        )

    def price(self, query: PriceQuery) -> Decimal | None:
        """The cost of ``query`` in dollars, or ``None`` if the model's price is unknown.

        Never raises: a failing resolver or price table is logged and gives ``None``.
        """
        try:
            if self.resolver is not None:
                resolved = self.resolver(query)
                if resolved is not None:
                    return _money(resolved, model=query.model, name="price resolver result")
            override = self._override(query.model)
            if override is not None:
                return override.cost(query)
            rate = self._rate(query)
            if rate is None:
                self._warn_unpriced(query)
                return None
            if isinstance(rate, _LinearRate):
                return rate.cost(query)
            return rate.calc_price(_genai_usage(query))["total_price"]
        except Exception:
            logger.exception(
                "aiusage: pricing %s/%s failed; the call is recorded as unpriced",
                query.provider,
                query.model,
            )
            return None

    def _override(self, model: str) -> CustomPrice | None:
        if not self.overrides:
            return None
        exact = self.overrides.get(model)
        if exact is not None:
            return exact
        for pattern, price in self.overrides.items():
            if fnmatchcase(model, pattern):
                return price
        return None

    def _rate(self, q: PriceQuery) -> _LinearRate | ModelPrice | None:
        tier = _tier_key(q.service_tier)
        key = (q.provider, q.model, tier, q.batch)
        rates = self._todays_rates()
        try:
            return rates[key]
        except KeyError:
            pass
        context: dict[str, str] = {}
        if tier:
            context["service_tier"] = tier
        if q.batch:
            context["processing"] = "batch"
        import genai_prices

        rate: _LinearRate | ModelPrice | None
        try:
            calc = genai_prices.calc_price(
                genai_prices.Usage(input_tokens=0),
                q.model,
                provider_id=q.provider,
                price_context=context or None,
            )
        except LookupError:
            rate = None
        else:
            rate = _linearise(calc.model_price) or calc.model_price
        with self._lock:
            rates[key] = rate
        return rate

    def _warn_unpriced(self, q: PriceQuery) -> None:
        key = (q.provider, q.model)
        with self._lock:
            if key in self._warned:
                return
            self._warned.add(key)
        logger.warning(
            "aiusage: no price known for model %r (provider %r); its calls are recorded with "
            "cost_usd=None and counted in unpriced_calls. Add a price with "
            "aiusage_core.configure(prices={%r: CustomPrice(input_mtok=..., output_mtok=...)})",
            q.model,
            q.provider,
            q.model,
        )


def context_window(model: str, provider: str) -> int | None:
    """The most tokens (input and output together) ``model`` takes in one call, as
    genai-prices' bundled data says, or ``None`` when it does not know the model or its
    window. Never raises."""
    try:
        from genai_prices import data_snapshot

        _, info = data_snapshot.get_snapshot().find_provider_model(model, None, provider, None)
    except Exception:
        return None
    window = info.context_window
    return window if isinstance(window, int) and window > 0 else None


def preload_prices() -> None:
    """Import genai-prices and load its bundled data now rather than on the first call.

    The first price lookup otherwise takes a few hundred milliseconds, which trips
    time-sensitive callers such as hypothesis' per-example deadline.
    """
    from genai_prices import data_snapshot

    data_snapshot.get_snapshot()
