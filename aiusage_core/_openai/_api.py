"""The public functions of the OpenAI integration, importable without importing ``openai``.

The ``openai`` SDK takes about a second to import; ``import aiusage_core`` must not pay that
for programs (and test suites) that never touch it. These functions import the integration
on first use.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal, TypeVar, overload

from .._tracking import UNSET

if TYPE_CHECKING:
    import openai

__all__ = [
    "create_wrapped_openai_client",
    "instrument_openai",
    "uninstrument_openai",
    "wrap_openai",
]

ClientT = TypeVar("ClientT", "openai.OpenAI", "openai.AsyncOpenAI")


def wrap_openai(
    client: ClientT,
    *,
    metadata: Mapping[str, Any] | None = UNSET,
    stream_usage: bool = UNSET,
    send_metadata: bool = UNSET,
    provider: str | None = UNSET,
) -> ClientT:
    """Track every API call of ``client`` and return ``client`` itself.

    Works with ``OpenAI``, ``AsyncOpenAI``, ``AzureOpenAI`` and ``AsyncAzureOpenAI`` (and
    their subclasses). Chat Completions, Embeddings and Responses calls, in every form
    (``create``, ``parse``, ``.stream()``, ``with_raw_response``, ``with_streaming_response``),
    become usage records in the innermost open usage context; calls return exactly what they
    return unwrapped. Clients made by ``client.with_options(...)`` are tracked alike::

        client = wrap_openai(OpenAI(), metadata={"team": "ocr"})
        with ai_usage_context("receipt_batch") as usage:
            client.chat.completions.create(model="gpt-4o-mini", messages=[...])

    Options (all keyword-only):

    * ``metadata``: default metadata of this client's records (below every context's).
    * ``stream_usage``: ask chat streams for their usage chunk
      (``stream_options={"include_usage": True}``) when the caller did not say, and hide
      that extra chunk from the caller. Without it a chat stream that was not asked for
      usage is recorded with ``usage_status="missing"``.
    * ``send_metadata``: send the merged metadata as the request's ``metadata`` where the
      API accepts it (Responses; Chat Completions with ``store=True``), checked against
      OpenAI's limits first (:class:`MetadataError` names the offending key).
    * ``provider``: the genai-prices provider to price with (default ``"azure"`` for Azure
      clients, else ``"openai"``).

    Wrapping a wrapped client again counts each call once; options passed again replace
    the earlier ones, options left out keep them. A bad option raises
    :class:`ConfigurationError` (or :class:`MetadataError`) at once.
    """
    from ._integration import wrap_openai as wrap

    return wrap(
        client,
        metadata=metadata,
        stream_usage=stream_usage,
        send_metadata=send_metadata,
        provider=provider,
    )


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
    """Make an OpenAI client with ``openai_kwargs`` and return it wrapped with default
    options (see :func:`wrap_openai`).

    ``async_=True`` makes an ``AsyncOpenAI``; ``azure=True`` an ``AzureOpenAI`` (or
    ``AsyncAzureOpenAI``)::

        client = create_wrapped_openai_client(api_key=..., timeout=30)
    """
    from ._integration import create_wrapped_openai_client as create

    if async_:
        return create(async_=True, azure=azure, **openai_kwargs)
    return create(async_=False, azure=azure, **openai_kwargs)


def instrument_openai(
    *,
    metadata: Mapping[str, Any] | None = UNSET,
    stream_usage: bool = UNSET,
    send_metadata: bool = UNSET,
    provider: str | None = UNSET,
) -> None:
    """Track every OpenAI client in the process, including ones made before this call and
    inside third-party libraries, until :func:`uninstrument_openai`.

    ``request`` is patched on the ``openai.OpenAI`` and ``openai.AsyncOpenAI`` classes (the
    Azure clients inherit it). The options are those of :func:`wrap_openai` and apply to
    clients that were not wrapped; a wrapped client keeps its own options and each of its
    calls is counted once. Calling it again updates the options given and keeps the others.
    """
    from ._integration import instrument_openai as instrument

    instrument(
        metadata=metadata,
        stream_usage=stream_usage,
        send_metadata=send_metadata,
        provider=provider,
    )


def uninstrument_openai() -> None:
    """Undo :func:`instrument_openai`: the OpenAI classes are restored exactly.

    A no-op when not instrumented. If another library patched ``request`` on top of ours
    in the meantime, ours stays in its chain but passes every call through untracked.
    """
    instrumentation = sys.modules.get(f"{__package__}._integration")
    if instrumentation is not None:  # never imported: nothing to undo
        instrumentation.uninstrument_openai()
