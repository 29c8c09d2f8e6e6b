"""The Anthropic integration's functions, behind :mod:`._api` (this module imports
``anthropic``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from anthropic._base_client import AsyncAPIClient, BaseClient, SyncAPIClient

from .._errors import ConfigurationError
from .._providers.anthropic import ANTHROPIC
from .._sdk import _instrument
from .._sdk._wrap import options_of, wrap
from .._tracking import UNSET, make_options

__all__ = ["instrument_anthropic", "is_instrumented", "uninstrument_anthropic", "wrap_anthropic"]

ClientT = TypeVar("ClientT", bound="BaseClient[Any, Any]")


def wrap_anthropic(
    client: ClientT,
    *,
    metadata: Mapping[str, Any] | None = UNSET,
    provider: str | None = UNSET,
) -> ClientT:
    """Implementation of :func:`aiusage_core.wrap_anthropic` (documented there)."""
    if not isinstance(client, SyncAPIClient | AsyncAPIClient):
        raise ConfigurationError(
            "wrap_anthropic() takes a client of the anthropic SDK (Anthropic, AsyncAnthropic, "
            f"AnthropicBedrock, AnthropicVertex, ...), not {type(client).__name__} "
            f"({client!r:.80})",
            name="client",
            value=client,
        )
    tracking = make_options(
        source="wrap_anthropic()", base=options_of(client), metadata=metadata, provider=provider
    )
    wrap(ANTHROPIC, client, tracking)
    return client


def instrument_anthropic(
    *,
    metadata: Mapping[str, Any] | None = UNSET,
    provider: str | None = UNSET,
) -> None:
    """Implementation of :func:`aiusage_core.instrument_anthropic` (documented there)."""
    tracking = make_options(
        source="instrument_anthropic()",
        base=_instrument.tracking_of(ANTHROPIC),
        metadata=metadata,
        provider=provider,
    )
    _instrument.instrument(ANTHROPIC, tracking)


def uninstrument_anthropic() -> None:
    """Implementation of :func:`aiusage_core.uninstrument_anthropic` (documented there)."""
    _instrument.uninstrument(ANTHROPIC, "instrument_anthropic()")


def is_instrumented() -> bool:
    """Whether :func:`instrument_anthropic` is in effect."""
    return _instrument.is_instrumented(ANTHROPIC)
