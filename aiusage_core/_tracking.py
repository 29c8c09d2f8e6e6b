"""The options of the `wrap_*` and `instrument_*` functions, validated once and passed down
as one object."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from ._errors import ConfigurationError
from ._metadata import validate_metadata

__all__ = ["DEFAULT_OPTIONS", "UNSET", "TrackingOptions", "make_options"]

UNSET: Any = object()
"""Marks an option the caller did not pass (so that re-wrapping keeps the earlier value)."""

_NO_METADATA: Mapping[str, Any] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class TrackingOptions:
    """How a client's calls are tracked."""

    metadata: Mapping[str, Any] = field(default_factory=lambda: _NO_METADATA)
    """Client default metadata: the lowest layer above the environment tags."""
    stream_usage: bool = False
    """Ask chat streams for a usage chunk (and hide it from a caller who did not ask)."""
    send_metadata: bool = False
    """Send the merged metadata to OpenAI as the request's ``metadata``, where accepted."""
    provider: str | None = None
    """The provider to price with; ``None`` picks ``azure`` for Azure clients, else ``openai``."""


DEFAULT_OPTIONS = TrackingOptions()


def _flag(value: object, name: str, source: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigurationError(
            f"{source}: {name} must be True or False, not {value!r}", name=name, value=value
        )
    return value


def make_options(
    *,
    source: str,
    base: TrackingOptions = DEFAULT_OPTIONS,
    metadata: Mapping[str, Any] | None = UNSET,
    stream_usage: bool = UNSET,
    send_metadata: bool = UNSET,
    provider: str | None = UNSET,
) -> TrackingOptions:
    """Validate the options given to ``source``; options not given keep ``base``'s value.

    Raises :class:`ConfigurationError` (or :class:`MetadataError`) naming the bad option.
    """
    if metadata is UNSET:
        checked_metadata = base.metadata
    elif metadata is None:
        checked_metadata = _NO_METADATA
    else:
        checked_metadata = MappingProxyType(validate_metadata(metadata, f"{source} metadata=..."))
    if (
        provider is not UNSET
        and provider is not None
        and (not isinstance(provider, str) or not provider.strip())
    ):
        raise ConfigurationError(
            f"{source}: provider must be a non-empty string such as 'openai' or 'azure', "
            f"not {provider!r}",
            name="provider",
            value=provider,
        )
    return TrackingOptions(
        metadata=checked_metadata,
        stream_usage=base.stream_usage
        if stream_usage is UNSET
        else _flag(stream_usage, "stream_usage", source),
        send_metadata=base.send_metadata
        if send_metadata is UNSET
        else _flag(send_metadata, "send_metadata", source),
        provider=base.provider if provider is UNSET else provider,
    )
