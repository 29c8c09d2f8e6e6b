"""The provider seam carries a provider it has never heard of: the made-up Acme, whose
adapter (:mod:`acme_provider`) is written against the seam only. Its plain, streamed,
failed and garbage-collected calls become exactly one record each, normalised, priced by a
price override keyed by its provider, and refused by budgets before they are sent.

HTTP goes through an ``httpx2.MockTransport`` scripted per test (:class:`AcmeServer`).
"""

from __future__ import annotations

import asyncio
import gc
import json
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal
from typing import Any

import acme_sdk
import httpx2
import pytest
from acme_provider import instrument_acme, uninstrument_acme, wrap_acme

from aiusage_core import (
    Budget,
    BudgetExceededError,
    CustomPrice,
    UsageContext,
    UsageRecord,
    ai_usage_context,
    configure,
)

MODEL = "acme-1-2026-06"
# Acme's meter: ``prompt`` excludes the cached tokens, ``completion`` includes thinking.
METER = {"prompt": 800, "cached": 200, "completion": 100, "thinking": 40}
# The price override below: $2.00/MTok input, $0.50/MTok cached input, $8.00/MTok output.
# (800 uncached * 2.00 + 200 cached * 0.50 + 100 output * 8.00) / 1e6
COST = Decimal("0.0025")


class _Broken(httpx2.SyncByteStream, httpx2.AsyncByteStream):
    """A response body that sends ``lines`` then loses the connection."""

    def __init__(self, lines: list[bytes]) -> None:
        self._lines = lines

    def __iter__(self) -> Iterator[bytes]:
        yield from self._lines
        raise httpx2.ReadError("connection lost")

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for line in self._lines:
            yield line
        raise httpx2.ReadError("connection lost")


def _lines(events: list[dict[str, Any]]) -> list[bytes]:
    return [json.dumps(event).encode() + b"\n" for event in events]


def stream_events(*meters: dict[str, int]) -> list[dict[str, Any]]:
    """A streamed reply: start, text, one ``meter`` event per meter given, stop."""
    events: list[dict[str, Any]] = [
        {"event": "start", "model": MODEL, "tier": "flex"},
        {"event": "text", "text": "Hello"},
    ]
    events += [{"event": "meter", "meter": meter} for meter in meters]
    return [*events, {"event": "stop"}]


class AcmeServer:
    """Answers Acme requests: a scripted reply per request (a completion by default)."""

    def __init__(self) -> None:
        self.requests: list[httpx2.Request] = []
        self.replies: list[httpx2.Response | Exception] = []
        self.transport = httpx2.MockTransport(self._handle)

    def _handle(self, request: httpx2.Request) -> httpx2.Response:
        self.requests.append(request)
        reply = self.replies.pop(0) if self.replies else self.completion()
        if isinstance(reply, Exception):
            raise reply
        return reply

    def completion(self, meter: dict[str, int] = METER) -> httpx2.Response:
        body = {"id": "gen-1", "model": MODEL, "tier": "flex", "text": "Hi", "meter": meter}
        return httpx2.Response(200, json=body, headers={"acme-request-id": "req-plain"})

    def stream(self, events: list[dict[str, Any]], *, broken: bool = False) -> None:
        headers = {"acme-request-id": "req-stream"}
        body = _lines(events)
        if broken:
            self.replies.append(httpx2.Response(200, stream=_Broken(body), headers=headers))
        else:
            self.replies.append(httpx2.Response(200, content=b"".join(body), headers=headers))


@pytest.fixture(autouse=True)
def _acme_prices() -> Iterator[None]:
    price = CustomPrice(
        input_mtok=Decimal("2.00"), cached_input_mtok=Decimal("0.50"), output_mtok=Decimal("8.00")
    )
    with configure(prices={("acme", "acme-1*"): price}):
        yield
    uninstrument_acme()


@pytest.fixture
def server() -> AcmeServer:
    return AcmeServer()


@pytest.fixture
def client(server: AcmeServer) -> Iterator[acme_sdk.Acme]:
    client = wrap_acme(acme_sdk.Acme(transport=server.transport))
    yield client
    client.close()


@pytest.fixture
def usage() -> Iterator[UsageContext]:
    with ai_usage_context("acme-test") as ctx:
        yield ctx


def single(ctx: UsageContext) -> UsageRecord:
    records = ctx.records
    assert len(records) == 1, records
    return records[0]


def assert_metered(record: UsageRecord, request_id: str) -> None:
    """``record`` carries :data:`METER`, normalised, at :data:`COST`."""
    assert (record.provider, record.api, record.model) == ("acme", "generate", MODEL)
    assert record.usage_status == "reported"
    assert record.input_tokens == 1000  # 800 + 200 cached: the vocabulary's convention
    assert record.cached_input_tokens == 200
    assert (record.output_tokens, record.reasoning_tokens) == (100, 40)
    assert record.cost_usd == COST
    assert (record.service_tier, record.request_id) == ("flex", request_id)


def test_a_plain_call_is_recorded_normalised_and_priced(
    client: acme_sdk.Acme, usage: UsageContext
) -> None:
    completion = client.generate(model="acme-1", prompt="Hi")
    assert completion.text == "Hi"
    record = single(usage)
    assert_metered(record, "req-plain")
    assert record.error is None
    assert record.latency_ms is not None
    assert record.context_path == ("acme-test",)


def test_an_untracked_endpoint_of_the_same_client_is_never_a_call(
    server: AcmeServer, client: acme_sdk.Acme, usage: UsageContext
) -> None:
    server.replies.append(httpx2.Response(200, json={"tokens": 7}))
    assert client.count(model="acme-1", prompt="Hi") == {"tokens": 7}
    assert usage.records == []


def test_a_stream_is_recorded_once_from_its_last_cumulative_meter(
    server: AcmeServer, client: acme_sdk.Acme, usage: UsageContext
) -> None:
    early = {"prompt": 800, "cached": 200, "completion": 1, "thinking": 0}
    server.stream(stream_events(early, METER))
    events = list(client.generate(model="acme-1", prompt="Hi", stream=True))
    assert [event["event"] for event in events] == [
        "start", "text", "meter", "meter", "stop",
    ]  # fmt: skip
    assert_metered(single(usage), "req-stream")


def test_a_raw_response_is_recorded_from_its_body(
    client: acme_sdk.Acme, usage: UsageContext
) -> None:
    raw = client.generate(model="acme-1", prompt="Hi", raw=True)
    assert raw.parse().meter == METER
    assert_metered(single(usage), "req-plain")


def test_an_error_status_is_a_failed_call_of_zero_tokens(
    server: AcmeServer, client: acme_sdk.Acme, usage: UsageContext
) -> None:
    server.replies.append(
        httpx2.Response(429, text="slow down", headers={"acme-request-id": "req-429"})
    )
    with pytest.raises(acme_sdk.AcmeStatusError):
        client.generate(model="acme-1", prompt="Hi")
    record = single(usage)
    assert record.error is not None
    assert record.error.type == "AcmeStatusError"
    assert record.error.message == "Acme answered 429: slow down"
    assert (record.usage_status, record.input_tokens, record.output_tokens) == ("reported", 0, 0)
    assert record.cost_usd == Decimal(0)  # priced: a known model's error costs $0
    assert (record.model, record.request_id) == ("acme-1", "req-429")


def test_a_request_that_never_left_costs_nothing(
    server: AcmeServer, client: acme_sdk.Acme, usage: UsageContext
) -> None:
    server.replies.append(httpx2.ConnectError("connection refused"))
    with pytest.raises(acme_sdk.AcmeConnectionError):
        client.generate(model="acme-9", prompt="Hi")  # a model no price knows
    record = single(usage)
    assert record.error is not None
    assert record.error.type == "AcmeConnectionError"
    assert record.cost_usd == Decimal(0)


def test_a_stream_broken_midway_keeps_what_its_meter_said(
    server: AcmeServer, client: acme_sdk.Acme, usage: UsageContext
) -> None:
    server.stream(stream_events(METER)[:3], broken=True)
    with pytest.raises(httpx2.ReadError):
        for _ in client.generate(model="acme-1", prompt="Hi", stream=True):
            pass
    record = single(usage)
    assert_metered(record, "req-stream")
    assert record.error is not None
    assert record.error.type == "ReadError"


def test_a_stream_broken_before_any_meter_is_missing_usage(
    server: AcmeServer, client: acme_sdk.Acme, usage: UsageContext
) -> None:
    server.stream(stream_events()[:2], broken=True)
    with pytest.raises(httpx2.ReadError):
        list(client.generate(model="acme-1", prompt="Hi", stream=True))
    record = single(usage)
    assert (record.usage_status, record.cost_usd) == ("missing", None)
    assert (record.model, record.service_tier) == (MODEL, "flex")  # from the start event


def test_an_unread_stream_is_recorded_when_garbage_collected(
    server: AcmeServer, client: acme_sdk.Acme, usage: UsageContext
) -> None:
    server.stream(stream_events(METER))
    stream = client.generate(model="acme-1", prompt="Hi", stream=True)
    del stream
    gc.collect()
    record = single(usage)
    assert (record.usage_status, record.cost_usd, record.latency_ms) == ("missing", None, None)
    assert record.request_id == "req-stream"
    gc.collect()
    assert len(usage.records) == 1


def test_a_partly_read_stream_is_recorded_once_when_garbage_collected(
    server: AcmeServer, client: acme_sdk.Acme, usage: UsageContext
) -> None:
    server.stream(stream_events(METER))
    stream = iter(client.generate(model="acme-1", prompt="Hi", stream=True))
    assert [next(stream)["event"] for _ in range(3)] == ["start", "text", "meter"]
    del stream
    gc.collect()
    record = single(usage)
    assert_metered(record, "req-stream")  # the meter it had read
    assert record.latency_ms is None


def test_a_closed_stream_is_recorded_at_once(
    server: AcmeServer, client: acme_sdk.Acme, usage: UsageContext
) -> None:
    server.stream(stream_events(METER))
    stream = client.generate(model="acme-1", prompt="Hi", stream=True)
    stream.close()
    assert single(usage).usage_status == "missing"


def test_async_calls_are_recorded_alike(server: AcmeServer) -> None:
    async def main() -> list[UsageRecord]:
        client = wrap_acme(acme_sdk.AsyncAcme(transport=server.transport))
        with ai_usage_context("async") as ctx:
            await client.generate(model="acme-1", prompt="Hi")
            server.stream(stream_events({"prompt": 1, "completion": 1}, METER))
            stream = await client.generate(model="acme-1", prompt="Hi", stream=True)
            assert [event["event"] async for event in stream][-1] == "stop"
            server.stream(stream_events(METER)[:3], broken=True)
            with pytest.raises(httpx2.ReadError):
                async for _ in await client.generate(model="acme-1", prompt="Hi", stream=True):
                    pass
            unread = await client.generate(model="acme-1", prompt="Hi", stream=True)
            del unread
            gc.collect()
        await client.close()
        return ctx.records

    plain, streamed, broken, collected = asyncio.run(main())
    assert_metered(plain, "req-plain")
    assert_metered(streamed, "req-stream")
    assert_metered(broken, "req-stream")
    assert broken.error is not None
    assert (collected.usage_status, collected.latency_ms) == ("missing", None)


def test_a_derived_client_is_tracked_with_the_same_options(
    client: acme_sdk.Acme, usage: UsageContext
) -> None:
    wrap_acme(client, metadata={"team": "ocr"}, provider="acme-eu")
    client.with_options().generate(model="acme-1", prompt="Hi")
    record = single(usage)
    assert (record.provider, record.metadata["team"]) == ("acme-eu", "ocr")


def test_instrumenting_tracks_every_client_until_undone(server: AcmeServer) -> None:
    plain = acme_sdk.Acme(transport=server.transport)
    own_request = vars(acme_sdk.Acme)["request"]
    with ai_usage_context("instrumented") as ctx:
        instrument_acme(metadata={"via": "instrument"})
        plain.generate(model="acme-1", prompt="Hi")
        uninstrument_acme()
        plain.generate(model="acme-1", prompt="Hi")
    record = single(ctx)
    assert_metered(record, "req-plain")
    assert record.metadata["via"] == "instrument"
    assert len(server.requests) == 2
    assert vars(acme_sdk.Acme)["request"] is own_request  # restored exactly


def test_a_hard_budget_refuses_the_call_before_it_is_sent(
    server: AcmeServer, client: acme_sdk.Acme
) -> None:
    # The worst case of an uncapped call is unbounded: a hard budget refuses it unsent.
    budget = Budget(usd=Decimal("0.001"))
    with (
        ai_usage_context("capped", budget=budget) as capped,
        pytest.raises(BudgetExceededError) as refused,
    ):
        client.generate(model="acme-1", prompt="Hi")
    assert server.requests == []
    assert capped.records == []
    assert "acme generate call to acme-1" in str(refused.value)
