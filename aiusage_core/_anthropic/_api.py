"""The public functions of the Anthropic integration, importable without importing
``anthropic`` (the SDK is imported on first use, as :mod:`aiusage_core._openai._api` does for
``openai``)."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from .._tracking import UNSET

if TYPE_CHECKING:
    import anthropic

__all__ = ["instrument_anthropic", "uninstrument_anthropic", "wrap_anthropic"]

ClientT = TypeVar("ClientT", bound="anthropic._base_client.BaseClient[Any, Any]")


def wrap_anthropic(
    client: ClientT,
    *,
    metadata: Mapping[str, Any] | None = UNSET,
    provider: str | None = UNSET,
) -> ClientT:
    """Track every Messages call of ``client`` and return ``client`` itself.

    Works with every client of the ``anthropic`` SDK (2.x): ``Anthropic``,
    ``AsyncAnthropic``, and the Bedrock, Vertex and other cloud clients (and their
    subclasses). ``messages.create`` (plain and ``stream=True``), the ``messages.stream()``
    helper, ``beta.messages``, ``with_raw_response`` and ``with_streaming_response`` become
    usage records in the innermost open usage context, each call once however its stream
    ends; the results of message batches are recorded as they are read, one record per
    succeeded request at batch rates (results read again in the same usage context are not
    counted again; errored, canceled and expired requests are not billed, so not calls).
    ``count_tokens`` is never a call. Calls return
    exactly what they return unwrapped::

        client = wrap_anthropic(Anthropic(), metadata={"team": "ocr"})
        with ai_usage_context("receipt_batch") as usage:
            client.messages.create(model="claude-haiku-4-5", max_tokens=256, messages=[...])

    Anthropic reports cache reads and writes apart from ``input_tokens``; records follow
    the provider-neutral convention (``input_tokens`` includes them), with one-hour cache
    writes apart and web searches counted, so the cost is exact.

    Options (keyword-only):

    * ``metadata``: default metadata of this client's records (below every context's).
    * ``provider``: the genai-prices provider to price with (default: ``aws`` for Bedrock
      clients, ``google`` for Vertex ones, else the provider the client's base URL names,
      ``anthropic`` for Anthropic's API). A model the provider has no price for is
      recorded unpriced (``cost_usd=None``), never at $0.

    Wrapping a wrapped client again counts each call once; options passed again replace
    the earlier ones, options left out keep them. A bad option raises
    :class:`ConfigurationError` (or :class:`MetadataError`) at once.
    """
    from ._integration import wrap_anthropic as wrap

    return wrap(client, metadata=metadata, provider=provider)


def instrument_anthropic(
    *,
    metadata: Mapping[str, Any] | None = UNSET,
    provider: str | None = UNSET,
) -> None:
    """Track every client of the ``anthropic`` SDK in the process, including ones made
    before this call and inside third-party libraries, until :func:`uninstrument_anthropic`.

    ``request`` is patched on the SDK's sync and async client base classes, which every
    client (``Anthropic``, Bedrock, Vertex, ...) inherits. The options are those of
    :func:`wrap_anthropic` and apply to clients that were not wrapped; a wrapped client
    keeps its own options and each of its calls is counted once. Calling it again updates
    the options given and keeps the others.
    """
    from ._integration import instrument_anthropic as instrument

    instrument(metadata=metadata, provider=provider)


def uninstrument_anthropic() -> None:
    """Undo :func:`instrument_anthropic`: the SDK's classes are restored exactly.

    A no-op when not instrumented. If another library patched ``request`` on top of ours
    in the meantime, ours stays in its chain but passes every call through untracked.
    """
    instrumentation = sys.modules.get(f"{__package__}._integration")
    if instrumentation is not None:  # never imported: nothing to undo
        instrumentation.uninstrument_anthropic()
