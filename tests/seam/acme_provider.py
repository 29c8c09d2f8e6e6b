"""The adapter of the made-up Acme provider (:mod:`acme_sdk`): the whole of what a new
provider takes, written against the seam only (:class:`aiusage_core._providers.Provider`
and the hooks of :mod:`aiusage_core._sdk`), with no change to the engine.

Acme's meter counts cached tokens apart from ``prompt`` (as Anthropic does), so the adapter
normalises: ``input_tokens = prompt + cached``. Stream meters are cumulative: the last one
seen replaces the earlier ones.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import acme_sdk

from aiusage_core._calls import CallStart, PendingCall
from aiusage_core._context import UsageContext
from aiusage_core._counts import MISSING, Usage, make_usage
from aiusage_core._estimate import CallEstimate, request_text, text_token_bound
from aiusage_core._providers import Prepared, Read, SdkTypes, StreamReader
from aiusage_core._sdk import _instrument, _wrap
from aiusage_core._sdk._failures import never_sent
from aiusage_core._tracking import TrackingOptions, make_options

ENDPOINTS = {"/generate": "generate"}  # /count shares the client but is never a call
_NO_TOKENS = Usage("reported")


class _Gathered:
    """What a stream has said so far."""

    __slots__ = ("meter", "model", "tier")

    def __init__(self) -> None:
        self.model: str | None = None
        self.tier: str | None = None
        self.meter: Mapping[str, Any] | None = None


def _stream_item(call: PendingCall, item: Any) -> bool:
    gathered = call.final
    if gathered is None:
        gathered = call.final = _Gathered()
    assert isinstance(gathered, _Gathered)
    if item.get("event") == "start":
        gathered.model, gathered.tier = item.get("model"), item.get("tier")
    elif item.get("event") == "meter":
        gathered.meter = item.get("meter")  # cumulative: the latest replaces
    return False  # nothing is hidden from the caller


def _usage(meter: object) -> Usage:
    if not isinstance(meter, Mapping):
        return MISSING
    values = [meter.get(key, 0) for key in ("prompt", "cached", "completion", "thinking")]
    if not all(type(value) is int and value >= 0 for value in values):
        return MISSING
    prompt, cached, completion, thinking = values
    counts = {
        "input_tokens": prompt + cached,
        "cached_input_tokens": cached,
        "output_tokens": completion,
        "reasoning_tokens": min(thinking, completion),
    }
    return make_usage("reported", counts)


class AcmeAdapter:
    """The :class:`~aiusage_core._providers.Provider` of the ``acme_sdk`` SDK."""

    name = "Acme"
    request_id_header = acme_sdk.REQUEST_ID_HEADER
    sdk = SdkTypes(
        sync_client=acme_sdk.Acme,
        async_client=acme_sdk.AsyncAcme,
        streams=(acme_sdk.Stream, acme_sdk.AsyncStream),
        legacy_response=acme_sdk.RawResponse,
        raw_responses=(acme_sdk.RawResponse,),
    )

    def api_of(self, method: str, url: str) -> str | None:
        return ENDPOINTS.get(url) if method == "post" else None

    def provider_of(self, client: Any, tracking: TrackingOptions) -> str:
        return tracking.provider or "acme"

    def prepare(
        self, api: str, options: Any, tracking: TrackingOptions, context: UsageContext | None
    ) -> Prepared:
        return Prepared(options, None, False)

    def estimate(
        self, start: CallStart, body: object, extra: Mapping[str, Any] | None
    ) -> CallEstimate:
        bound = text_token_bound(request_text(body))
        return CallEstimate(start.provider, start.model, start.api, bound, None)

    def read(self, api: str, response: object) -> Read:
        if isinstance(response, acme_sdk.Completion):
            return Read(_usage(response.meter), response.model, response.tier)
        if isinstance(response, _Gathered):
            return Read(_usage(response.meter), response.model, response.tier)
        if isinstance(response, Mapping):  # a raw response's JSON body
            return Read(_usage(response.get("meter")), response.get("model"), response.get("tier"))
        return Read(MISSING, None, None)

    def stream_reader(self, api: str) -> StreamReader:
        return _stream_item

    def later(self, api: str, response: object) -> str | None:
        return None  # Acme answers every call with its usage

    def finished(self, response: object) -> str | None:
        return None

    def failure(self, exc: BaseException) -> tuple[Usage, Decimal | None]:
        if isinstance(exc, acme_sdk.AcmeStatusError):
            return _NO_TOKENS, None  # an error status did no billable work
        if never_sent(exc, acme_sdk.AcmeConnectionError):
            return _NO_TOKENS, Decimal(0)
        return MISSING, None  # may have been processed and billed


ACME = AcmeAdapter()


def wrap_acme(client: Any, **options: Any) -> Any:
    tracking = make_options(source="wrap_acme()", base=_wrap.options_of(client), **options)
    _wrap.wrap(ACME, client, tracking)
    return client


def instrument_acme(**options: Any) -> None:
    base = _instrument.tracking_of(ACME)
    _instrument.instrument(ACME, make_options(source="instrument_acme()", base=base, **options))


def uninstrument_acme() -> None:
    _instrument.uninstrument(ACME, "instrument_acme()")
