"""Provider adapters: what the engine needs to know about one provider's SDK and wire format.

The engine (:mod:`aiusage_core._calls` for the record of a call, :mod:`aiusage_core._sdk`
for hooking a client's ``request()``) depends on :class:`Provider` only. Each provider is a
module of its own here (``openai``, ``anthropic``) with one adapter object; adding a
provider is one module and its public ``wrap_*`` / ``instrument_*`` functions.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

from .._counts import Usage

if TYPE_CHECKING:
    from .._calls import CallStart, PendingCall
    from .._context import UsageContext
    from .._estimate import CallEstimate
    from .._tracking import TrackingOptions

__all__ = ["Prepared", "Provider", "Read", "SdkTypes", "StreamReader"]


class Read(NamedTuple):
    """What a response object (or what an adapter gathered from a stream) says about its call."""

    usage: Usage
    """Its counts, normalised to the vocabulary (:mod:`aiusage_core._counts`)."""
    model: str | None
    """The model that served it, when the response names one."""
    service_tier: str | None
    """The service tier that served it, when the response names one."""
    error: str | None = None
    """The message of an error carried in a response that failed (an HTTP 200 with an
    error), or ``None``."""


class Prepared(NamedTuple):
    """A request as it will be sent, and what the adapter learnt from it."""

    options: Any
    """The SDK's request options to send (the caller's, or an edited copy)."""
    call_metadata: Mapping[str, Any] | None
    """Metadata the caller put on the request, if the provider's requests carry any."""
    hide_usage_item: bool
    """Whether the stream's usage-only item was asked for by us (and must be hidden)."""
    batch: bool = False
    """Whether the request fetches a Batch API's results: no call itself (nothing to
    reserve), its response lists whole calls (:attr:`SdkTypes.call_lists`), each recorded
    once at batch rates."""


StreamReader = Callable[["PendingCall", Any], bool]
"""Reads one stream item into a call (``call.final``); returns whether to hide it from the
caller. Runs once per item: keep it minimal."""


@dataclass(frozen=True, slots=True)
class SdkTypes:
    """The classes of a Stainless-generated SDK (``openai``, ``anthropic``) the hooks need."""

    sync_client: type
    """The synchronous client class (``openai.OpenAI``)."""
    async_client: type
    """The asynchronous client class (``openai.AsyncOpenAI``)."""
    streams: tuple[type, type]
    """The ``Stream`` and ``AsyncStream`` classes."""
    legacy_response: type
    """The ``with_raw_response`` class (its body is read at once)."""
    raw_responses: tuple[type, ...]
    """Every raw response class (``with_raw_response`` and ``with_streaming_response``)."""
    call_lists: tuple[type, ...] = ()
    """Results listing whole calls, read item by item (Anthropic's batch results, JSON
    Lines): the adapter's stream reader of the request's API reads each item into a call
    of its own."""
    omitted: frozenset[type] = frozenset()
    """The SDK's placeholders of a parameter not given (``Omit``, ``NotGiven``): a request
    body may hold them until the SDK sends it without them, so a budget's estimate leaves
    them out too (written out, each would add tens of phantom tokens to the bound)."""
    ends_later: tuple[type, ...] = field(init=False)
    """Streams, raw responses and call lists: the results read after ``request()``."""

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "ends_later", (*self.streams, *self.raw_responses, *self.call_lists)
        )


class Provider(Protocol):
    """What every provider adapter does. The engine calls nothing else."""

    @property
    def name(self) -> str:
        """The provider's name in messages (``"OpenAI"``, ``"Anthropic"``)."""
        ...

    @property
    def sdk(self) -> SdkTypes:
        """The SDK classes hooked (imported when the adapter is)."""
        ...

    @property
    def request_id_header(self) -> str:
        """The response header holding the request id (``x-request-id``, ``request-id``)."""
        ...

    def api_of(self, method: str, url: str) -> str | None:
        """The API of a request to ``url`` (the SDK's path) if it is a tracked endpoint;
        ``None`` for anything else (never counted)."""
        ...

    def provider_of(self, client: Any, tracking: TrackingOptions) -> str:
        """The provider to record ``client``'s calls under (genai-prices' id)."""
        ...

    def prepare(
        self, api: str, options: Any, tracking: TrackingOptions, context: UsageContext | None
    ) -> Prepared:
        """The request to send (opt-in body edits) and what it says. May raise
        :class:`~aiusage_core.MetadataError` for the caller's mistakes."""
        ...

    def estimate(
        self, start: CallStart, body: object, extra: Mapping[str, Any] | None
    ) -> CallEstimate:
        """The worst case of the request (for budgets), from its JSON body."""
        ...

    def read(self, api: str, response: object) -> Read:
        """Usage, model, service tier (and a carried error) of a response. Never raises."""
        ...

    def later(self, api: str, response: object) -> str | None:
        """For a response that carries no usage yet because the work goes on after it (an
        OpenAI background response, ``queued``): the key of the later response that will
        carry it. ``None`` for any other response. Never raises."""
        ...

    def finished(self, response: object) -> str | None:
        """For the response of an untracked request that finishes earlier work (a poll that
        finds an OpenAI background response completed, failed or cancelled): the key that
        :meth:`later` gave that work. ``None`` otherwise. Never raises."""
        ...

    def stream_reader(self, api: str) -> StreamReader:
        """How to read the items of a stream of ``api``."""
        ...

    def failure(self, exc: BaseException) -> tuple[Usage, Decimal | None]:
        """The usage and cost of a call that ended with ``exc`` before any usage was read:
        zero tokens (priced: $0 for a known model) for an HTTP error status, which did no
        billable work; zero tokens at ``Decimal(0)`` for a request that never left the
        process; ``missing`` usage (cost ``None``) for anything else, which may have been
        billed."""
        ...
