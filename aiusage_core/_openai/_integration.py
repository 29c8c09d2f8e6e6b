"""The OpenAI integration's functions, behind :mod:`._api` (this module imports ``openai``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, TypeVar, overload

import openai

from .._errors import ConfigurationError
from .._providers.openai import OPENAI
from .._sdk import _instrument
from .._sdk._wrap import options_of, wrap
from .._tracking import UNSET, make_options

__all__ = [
    "create_wrapped_openai_client",
    "instrument_openai",
    "uninstrument_openai",
    "wrap_openai",
]

ClientT = TypeVar("ClientT", openai.OpenAI, openai.AsyncOpenAI)


def wrap_openai(
    client: ClientT,
    *,
    metadata: Mapping[str, Any] | None = UNSET,
    stream_usage: bool = UNSET,
    send_metadata: bool = UNSET,
    provider: str | None = UNSET,
) -> ClientT:
    """Implementation of :func:`aiusage_core.wrap_openai` (documented there)."""
    if not isinstance(client, openai.OpenAI | openai.AsyncOpenAI):
        raise ConfigurationError(
            "wrap_openai() takes an openai.OpenAI, AsyncOpenAI, AzureOpenAI or "
            f"AsyncAzureOpenAI client, not {type(client).__name__} ({client!r:.80})",
            name="client",
            value=client,
        )
    tracking = make_options(
        source="wrap_openai()",
        base=options_of(client),
        metadata=metadata,
        stream_usage=stream_usage,
        send_metadata=send_metadata,
        provider=provider,
    )
    wrap(OPENAI, client, tracking)
    return client


@overload
def create_wrapped_openai_client(
    *, async_: Literal[False] = False, azure: bool = False, **openai_kwargs: Any
) -> openai.OpenAI: ...


@overload
def create_wrapped_openai_client(
    *, async_: Literal[True], azure: bool = False, **openai_kwargs: Any
) -> openai.AsyncOpenAI: ...


def create_wrapped_openai_client(
    *, async_: bool = False, azure: bool = False, **openai_kwargs: Any
) -> openai.OpenAI | openai.AsyncOpenAI:
    """Implementation of :func:`aiusage_core.create_wrapped_openai_client`."""
    if async_:
        return wrap_openai(
            openai.AsyncAzureOpenAI(**openai_kwargs)
            if azure
            else openai.AsyncOpenAI(**openai_kwargs)
        )
    return wrap_openai(
        openai.AzureOpenAI(**openai_kwargs) if azure else openai.OpenAI(**openai_kwargs)
    )


def instrument_openai(
    *,
    metadata: Mapping[str, Any] | None = UNSET,
    stream_usage: bool = UNSET,
    send_metadata: bool = UNSET,
    provider: str | None = UNSET,
) -> None:
    """Implementation of :func:`aiusage_core.instrument_openai` (documented there)."""
    tracking = make_options(
        source="instrument_openai()",
        base=_instrument.tracking_of(OPENAI),
        metadata=metadata,
        stream_usage=stream_usage,
        send_metadata=send_metadata,
        provider=provider,
    )
    _instrument.instrument(OPENAI, tracking)


def uninstrument_openai() -> None:
    """Implementation of :func:`aiusage_core.uninstrument_openai` (documented there)."""
    _instrument.uninstrument(OPENAI, "instrument_openai()")


def is_instrumented() -> bool:
    """Whether :func:`instrument_openai` is in effect."""
    return _instrument.is_instrumented(OPENAI)
