"""Process-wide settings, replaced as a whole by :func:`configure` (never mutated in place).

A leaf of the package: it imports only values (errors, metadata, pricing, records, sinks).
What must happen around a change (deliver the records made under the old settings, drop
cached metadata) is registered here by the modules that own it, with :func:`on_change`.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from ._errors import ConfigurationError
from ._metadata import environment_tags, validate_metadata
from ._pricing import CustomPrice, PriceKey, Pricer, PriceResolver
from ._records import freeze_mapping
from ._sinks import Sink

__all__ = ["Settings", "configure", "settings"]

DEFAULT_CONTEXT_KEYS = ("job_id", "batch_id", "user_id")


@dataclass(frozen=True, kw_only=True)
class Settings:
    """The process-wide configuration. Read it with :func:`settings`; change it with
    :func:`configure`."""

    sinks: tuple[Sink, ...] = ()
    """Sinks every record goes to (in addition to the sinks of its contexts)."""
    pricer: Pricer = field(default_factory=Pricer)
    """Prices records: price resolver, then overrides, then genai-prices."""
    environment_tags: Mapping[str, Any] = field(default_factory=environment_tags)
    """The lowest metadata layer (``environment``, ``ci``)."""
    context_keys: tuple[str, ...] = DEFAULT_CONTEXT_KEYS
    """Argument names :func:`ai_usage_tracked` copies into metadata at call time."""
    max_records_per_context: int | None = 10_000
    """How many records a context keeps in ``records`` (totals stay exact beyond it)."""
    flush_every: int = 1_000
    """Pending records that trigger a flush to sinks before any context exits."""
    sink_timeout: float = 10.0
    """Seconds a sink may take to write one batch before its records are spooled."""
    spool_dir: str | None = None
    """Where records of failing sinks wait for a retry, and records no retry can store are
    set aside (default: ``$AIUSAGE_SPOOL_DIR``, else ``aiusage-spool-<uid>`` in the
    temporary folder). Put it on another disk than the ledger's."""

    def __post_init__(self) -> None:
        # Records outside any context share this one frozen mapping as their metadata.
        object.__setattr__(self, "environment_tags", freeze_mapping(self.environment_tags))


_lock = threading.Lock()


@dataclass
class _ChangeHooks:
    """What runs around a change of settings (registered by the modules that own it)."""

    before_configure: Callable[[], None] = lambda: None
    """Before :func:`configure`: deliver records made under the old settings."""
    before_restore: Callable[[], None] = lambda: None
    """Before a restore: make the records of calls that ended under the settings in force."""
    after_change: Callable[[], None] = lambda: None
    """After the settings changed: drop caches derived from them."""


_hooks = _ChangeHooks()


def on_change(
    *,
    before_configure: Callable[[], None],
    before_restore: Callable[[], None],
    after_change: Callable[[], None],
) -> None:
    """Register what runs around a change of settings (called once, by ``_context``)."""
    _hooks.before_configure = before_configure
    _hooks.before_restore = before_restore
    _hooks.after_change = after_change


def _default_settings() -> Settings:
    spool_dir = os.environ.get("AIUSAGE_SPOOL_DIR", "").strip() or None
    ledger = os.environ.get("AIUSAGE_LEDGER", "").strip()
    if not ledger:
        return Settings(spool_dir=spool_dir)
    from ._postgres import ledger_sink

    try:
        sink = ledger_sink(ledger)
    except ConfigurationError as exc:
        # Settings are read on the first record: raising here would break the program.
        logging.getLogger("aiusage").error("aiusage: AIUSAGE_LEDGER is not used: %s", exc)
        return Settings(spool_dir=spool_dir)
    return Settings(sinks=(sink,), spool_dir=spool_dir)


class _Holder:
    """Holds the current :class:`Settings`; the reference is swapped, never the object."""

    __slots__ = ("current",)

    def __init__(self) -> None:
        self.current: Settings | None = None


_holder = _Holder()


def settings() -> Settings:
    """The current process-wide :class:`Settings`."""
    current = _holder.current
    if current is None:
        with _lock:
            if _holder.current is None:
                _holder.current = _default_settings()
            current = _holder.current
    return current


class _Restore:
    """Returned by :func:`configure`: use it as a context manager to undo the change."""

    def __init__(self, previous: Settings, applied: Settings) -> None:
        self.previous = previous
        self.applied = applied

    def restore(self) -> None:
        """Put back the settings in force before the :func:`configure` call."""
        _hooks.before_restore()  # calls that ended before now: under the settings they ended under
        with _lock:
            _holder.current = self.previous

    def __enter__(self) -> Settings:
        return self.applied

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.restore()


_UNSET: Any = object()


def configure(
    *,
    sinks: Iterable[Sink] | None = _UNSET,
    prices: Mapping[PriceKey, CustomPrice | Mapping[str, Any]] | None = _UNSET,
    price_resolver: PriceResolver | None = _UNSET,
    environment: Mapping[str, Any] | None = _UNSET,
    context_keys: Sequence[str] = _UNSET,
    max_records_per_context: int | None = _UNSET,
    flush_every: int = _UNSET,
    sink_timeout: float = _UNSET,
    spool_dir: str | None = _UNSET,
) -> _Restore:
    """Set process-wide defaults; arguments not given keep their current value.

    ``sinks`` replaces the process-wide sinks. ``prices`` maps model ids (or ``fnmatch``
    patterns such as ``"ft:gpt-4o-mini:*"``), or ``(provider, model)`` pairs for one
    provider's model (``("openrouter", "acme/*")``), to :class:`CustomPrice` or mappings of
    its fields; a pair wins over a bare model id.
    ``price_resolver`` is consulted before the price tables. ``environment`` replaces the
    environment auto-tags (``None`` re-reads them from the environment).

    The return value can undo the change, which is handy in tests::

        with configure(sinks=[MemorySink()]):
            ...
    """
    _hooks.before_configure()  # records made under the old sinks go to the old sinks
    with _lock:
        previous = _holder.current if _holder.current is not None else _default_settings()
        changes: dict[str, Any] = {}
        if sinks is not _UNSET:
            sink_tuple = tuple(sinks or ())
            for sink in sink_tuple:
                if not callable(getattr(sink, "write", None)):
                    raise ConfigurationError(
                        f"sink {sink!r} has no write(records) method", name="sinks", value=sink
                    )
            changes["sinks"] = sink_tuple
        if prices is not _UNSET or price_resolver is not _UNSET:
            changes["pricer"] = Pricer(
                prices if prices is not _UNSET else previous.pricer.overrides,
                price_resolver if price_resolver is not _UNSET else previous.pricer.resolver,
            )
        if environment is not _UNSET:
            changes["environment_tags"] = (
                environment_tags()
                if environment is None
                else validate_metadata(environment, "configure(environment=...)")
            )
        if context_keys is not _UNSET:
            if isinstance(context_keys, str) or not all(
                isinstance(k, str) and k.isidentifier() for k in context_keys
            ):
                raise ConfigurationError(
                    f"context_keys must be a sequence of argument names, not {context_keys!r}",
                    name="context_keys",
                    value=context_keys,
                )
            changes["context_keys"] = tuple(context_keys)
        for name, value, minimum in (
            ("max_records_per_context", max_records_per_context, 0),
            ("flush_every", flush_every, 1),
        ):
            if value is _UNSET:
                continue
            if value is None and name == "max_records_per_context":
                changes[name] = None
                continue
            if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
                raise ConfigurationError(
                    f"{name} must be an integer >= {minimum}, not {value!r}", name=name, value=value
                )
            changes[name] = value
        if sink_timeout is not _UNSET:
            if (
                isinstance(sink_timeout, bool)
                or not isinstance(sink_timeout, int | float)
                or not (sink_timeout > 0)
            ):
                raise ConfigurationError(
                    f"sink_timeout must be a positive number of seconds, not {sink_timeout!r}",
                    name="sink_timeout",
                    value=sink_timeout,
                )
            changes["sink_timeout"] = float(sink_timeout)
        if spool_dir is not _UNSET:
            changes["spool_dir"] = None if spool_dir is None else os.fspath(spool_dir)
        applied = dataclasses.replace(previous, **changes)
        _holder.current = applied
    _hooks.after_change()
    return _Restore(previous, applied)
