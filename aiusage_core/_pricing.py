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

from ._counts import COUNT_NAMES, COUNTS, ENCLOSING, TokenCounts, Usage, make_usage
from ._errors import ConfigurationError
from ._models import suggest_model
from ._records import MONEY, money_add, money_multiply

__all__ = [
    "CustomPrice",
    "PriceKey",
    "PriceQuery",
    "PriceResolver",
    "Pricer",
    "context_window",
    "provider_for_url",
]

logger = logging.getLogger("aiusage")

_MTOK = Decimal(1_000_000)
_DEFAULT_TIERS = frozenset({"", "default", "auto", "standard"})


@dataclass(frozen=True, slots=True, kw_only=True)
class PriceQuery(TokenCounts):
    """Everything known about a call when it is priced: its counts (those of a record,
    ``input_tokens``, ``output_tokens``, ``cached_input_tokens``, ...) and the fields below."""

    model: str
    """The model to price (the response's model when known)."""
    provider: str
    """The provider, as genai-prices names it."""
    api: str
    """The API called (``chat``, ``embeddings``, ``responses``, ``messages``, ...)."""
    service_tier: str | None = None
    """The service tier that served the call."""
    batch: bool = False
    """Whether Batch API rates apply."""

    def usage(self) -> Usage:
        """The counts as a :class:`~aiusage_core._counts.Usage` (status ``reported``)."""
        return make_usage("reported", {name: getattr(self, name) for name in COUNT_NAMES})


PriceKey = str | tuple[str, str]
"""A price override's key: a model id (or ``fnmatch`` pattern) of any provider, or a
``(provider, model)`` pair for one provider's model."""


def _price_key(key: object) -> PriceKey:
    if isinstance(key, str) and key:
        return key
    if (
        isinstance(key, tuple)
        and len(key) == 2
        and all(isinstance(part, str) and part for part in key)
    ):
        return (key[0], key[1])
    raise ConfigurationError(
        f"a price override's key must be a model id or a (provider, model) pair of non-empty "
        f"strings, not {key!r}",
        name="prices",
        value=key,
    )


def _matches(key: PriceKey, pattern: PriceKey) -> bool:
    if isinstance(key, str) and isinstance(pattern, str):
        return fnmatchcase(key, pattern)
    return key[0] == pattern[0] and fnmatchcase(key[1], pattern[1])


def _key_text(key: PriceKey) -> str:
    return key if isinstance(key, str) else f"{key[0]}/{key[1]}"


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
    """Dollars per unit of each count (a part's price relative to the count that includes
    it), in :data:`COUNTS` order, and a fixed per-request price. Per-token prices are exact
    decimals (list prices / 10**6)."""

    per_request: Decimal
    per_unit: tuple[Decimal, ...]
    input: Decimal
    output: Decimal

    def cost(self, usage: Usage) -> Decimal:
        """The cost of ``usage`` (its counts, after the status)."""
        add, mul = money_add, money_multiply
        total = self.per_request
        for price, count in zip(self.per_unit, usage[1:], strict=True):
            if count:
                total = add(total, mul(price, count))
        return total


def _genai_usage(usage: Usage) -> genai_prices.Usage:
    import genai_prices

    return genai_prices.Usage(
        **{key: count for key, count in zip(_GENAI_KEYS, usage[1:], strict=True) if count}
    )


_GENAI_KEYS = tuple(c.genai_key for c in COUNTS)


def _linearise(model_price: ModelPrice) -> _LinearRate | None:
    """Derive per-count coefficients by pricing one million of each count (with the counts
    that include it), or ``None`` for tiered prices."""
    import genai_prices
    from genai_prices.types import TieredPrices

    if any(isinstance(v, TieredPrices) for v in vars(model_price).values()):
        return None

    genai_key = dict(zip(COUNT_NAMES, _GENAI_KEYS, strict=True))

    def at(*names: str) -> Decimal:
        usage = genai_prices.Usage(**{genai_key[name]: 1_000_000 for name in names})
        return model_price.calc_price(usage)["total_price"]

    base = at()
    per_million: dict[str, Decimal] = {}
    for name in COUNT_NAMES:  # a count's enclosing counts come before it
        enclosing = ENCLOSING[name]
        per_million[name] = (
            at(name, *enclosing) - base - sum((per_million[e] for e in enclosing), Decimal(0))
        )
    per_unit = tuple(MONEY.divide(per_million[name], _MTOK) for name in COUNT_NAMES)
    return _LinearRate(
        per_request=base,
        per_unit=per_unit,
        input=per_unit[COUNT_NAMES.index("input_tokens")],
        output=per_unit[COUNT_NAMES.index("output_tokens")],
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
        overrides: Mapping[PriceKey, CustomPrice | Mapping[str, Any]] | None = None,
        resolver: PriceResolver | None = None,
    ) -> None:
        self.overrides: dict[PriceKey, CustomPrice] = {
            _price_key(key): CustomPrice.parse(_key_text(key), price)
            for key, price in (overrides or {}).items()
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

    def price_usage(
        self,
        model: str,
        provider: str,
        api: str,
        service_tier: str | None,
        batch: bool,
        usage: Usage,
    ) -> Decimal | None:
        """Like :meth:`price`, without building a :class:`PriceQuery` on the common path.

        This is the per-call hot path: a cached linear rate and a few multiplications. Its
        common case (input and output tokens only) is written out here rather than calling
        :meth:`_LinearRate.cost`, which gives the same result: a call costs a tenth of it.
        """
        if self.resolver is None and not self.overrides:
            rates = self._rates if time.time() < self._rates_until else self._todays_rates()
            rate = rates.get(
                (provider, model, "" if service_tier is None else _tier_key(service_tier), batch)
            )
            if type(rate) is _LinearRate:
                if any(usage[3:]):  # counts beyond input and output
                    return rate.cost(usage)
                total = money_add(
                    money_multiply(rate.input, usage[1]),
                    money_multiply(rate.output, usage[2]),
                )
                return money_add(total, rate.per_request) if rate.per_request else total
        return self.price(
            PriceQuery(
                model=model,
                provider=provider,
                api=api,
                service_tier=service_tier,
                batch=batch,
                **usage.counts(),
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
            override = self._override(query.provider, query.model)
            if override is not None:
                return override.cost(query)
            rate = self._rate(query)
            if rate is None:
                self._warn_unpriced(query)
                return None
            usage = query.usage()
            if isinstance(rate, _LinearRate):
                return rate.cost(usage)
            return rate.calc_price(_genai_usage(usage))["total_price"]
        except Exception:
            logger.exception(
                "aiusage: pricing %s/%s failed; the call is recorded as unpriced",
                query.provider,
                query.model,
            )
            return None

    def _override(self, provider: str, model: str) -> CustomPrice | None:
        """The override of ``model`` of ``provider``: ``(provider, model)`` keys before model
        keys, an exact key before ``fnmatch`` patterns of the same kind."""
        if not self.overrides:
            return None
        for key in ((provider, model), model):
            exact = self.overrides.get(key)
            if exact is not None:
                return exact
            for pattern, price in self.overrides.items():
                if type(pattern) is type(key) and _matches(key, pattern):
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
        suggestion = suggest_model(q.model, q.provider)
        logger.warning(
            "aiusage: no price known for model %r (provider %r).%s Its calls are recorded "
            "with cost_usd=None and counted in unpriced_calls. Add a price with "
            "aiusage_core.configure(prices={%r: CustomPrice(input_mtok=..., output_mtok=...)})",
            q.model,
            q.provider,
            f" Did you mean {suggestion!r}?" if suggestion else "",
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


_url_providers: dict[str, str | None] = {}


def provider_for_url(url: str, *, default: str) -> str:
    """The provider genai-prices recognises by its API URL ``url`` (e.g. ``openrouter`` for
    ``https://openrouter.ai/api/v1``), or ``default`` when it recognises none. Never raises."""
    found = _url_providers.get(url, _UNKNOWN)
    if found is _UNKNOWN:
        found = None
        try:
            import re

            from genai_prices import data_snapshot

            for provider in data_snapshot.get_snapshot().providers:
                if provider.api_pattern and re.match(provider.api_pattern, url):
                    found = provider.id
                    break
        except Exception:
            logger.exception("aiusage: matching the API URL %r to a provider failed", url)
        _url_providers[url] = found
    return default if found is None else str(found)


_UNKNOWN: Any = object()


def preload_prices() -> None:
    """Import genai-prices and load its bundled data now rather than on the first call.

    The first price lookup otherwise takes a few hundred milliseconds, which trips
    time-sensitive callers such as hypothesis' per-example deadline.
    """
    from genai_prices import data_snapshot

    data_snapshot.get_snapshot()
