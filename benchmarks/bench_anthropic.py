"""What tracking costs on an Anthropic call: a wrapped client against the raw SDK, measured
as ``bench_openai.py`` measures OpenAI's (the same methods; see its docstring).

The ``anthropic`` SDK talks to ``httpx2.MockTransport`` (canned bodies, no network). From the
repository root::

    python -m pytest benchmarks/bench_anthropic.py -p no:cacheprovider   # with the suite
    python benchmarks/bench_anthropic.py                                  # the ratios alone

Figures: the wrapped/raw time ratio of a non-streaming ``messages.create`` (with cache
tokens in its usage, so the whole normalisation runs; the same target as OpenAI's chat
call), of the same call under a budget, and of a 200-delta stream read to the end.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Iterator
from typing import Any

import anthropic
import httpx2
import pytest
from _measure import format_seconds, paired
from bench_openai import AMPLE, fresh_context, settle_per_call

from aiusage_core import ai_usage_context, configure, wrap_anthropic

MODEL = "claude-haiku-4-5"
MESSAGES: list[Any] = [{"role": "user", "content": "Say hello."}]
STREAM_DELTAS = 200

_USAGE = {
    "input_tokens": 12,
    "cache_creation_input_tokens": 100,
    "cache_read_input_tokens": 1000,
    "cache_creation": {"ephemeral_5m_input_tokens": 100, "ephemeral_1h_input_tokens": 0},
    "output_tokens": 3,
    "service_tier": "standard",
}
_MESSAGE = {
    "id": "msg_bench",
    "type": "message",
    "role": "assistant",
    "model": MODEL,
    "content": [{"type": "text", "text": "Hello!"}],
    "stop_reason": "end_turn",
    "stop_sequence": None,
    "usage": _USAGE,
}
_BODY = json.dumps(_MESSAGE).encode()


def _event(payload: dict[str, Any]) -> bytes:
    return f"event: {payload['type']}\ndata: {json.dumps(payload)}\n\n".encode()


_STREAM = b"".join(
    [
        _event(
            {
                "type": "message_start",
                "message": {
                    **_MESSAGE,
                    "content": [],
                    "stop_reason": None,
                    "usage": {**_USAGE, "output_tokens": 1},
                },
            }
        ),
        _event(
            {
                "type": "content_block_start",
                "index": 0,
                "content_block": {"type": "text", "text": ""},
            }
        ),
        *(
            _event(
                {
                    "type": "content_block_delta",
                    "index": 0,
                    "delta": {"type": "text_delta", "text": "word "},
                }
            )
            for _ in range(STREAM_DELTAS)
        ),
        _event({"type": "content_block_stop", "index": 0}),
        _event(
            {
                "type": "message_delta",
                "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                "usage": {"input_tokens": 12, "output_tokens": STREAM_DELTAS},
            }
        ),
        _event({"type": "message_stop"}),
    ]
)


def _handler(request: httpx2.Request) -> httpx2.Response:
    headers = {"request-id": "req_bench"}
    if b'"stream":true' in request.content:
        return httpx2.Response(
            200, content=_STREAM, headers={**headers, "content-type": "text/event-stream"}
        )
    return httpx2.Response(
        200, content=_BODY, headers={**headers, "content-type": "application/json"}
    )


def make_client(*, wrapped: bool) -> anthropic.Anthropic:
    """An SDK client over the mock transport, wrapped or not."""
    client = anthropic.Anthropic(
        api_key="sk-ant-bench",
        base_url="http://bench.invalid",
        max_retries=0,
        http_client=anthropic.DefaultHttpxClient(transport=httpx2.MockTransport(_handler)),
    )
    return wrap_anthropic(client) if wrapped else client


def messages_call(client: anthropic.Anthropic) -> Callable[[], object]:
    """One non-streaming ``messages.create`` (``max_tokens`` is required: budgets reserve it)."""
    return lambda: client.messages.create(model=MODEL, max_tokens=50, messages=MESSAGES)


def messages_stream(client: anthropic.Anthropic) -> Callable[[], object]:
    """One stream of ``STREAM_DELTAS`` text deltas, read to the end."""
    return lambda: list(
        client.messages.create(model=MODEL, max_tokens=500, messages=MESSAGES, stream=True)
    )


# -- pytest-benchmark ----------------------------------------------------------------------


@pytest.fixture
def clients() -> Iterator[tuple[anthropic.Anthropic, anthropic.Anthropic]]:
    """A raw and a wrapped client over the mock transport."""
    with make_client(wrapped=False) as raw, make_client(wrapped=True) as wrapped:
        yield raw, wrapped


def test_messages_call(benchmark: Any, figures: Any, clients: tuple[Any, Any]) -> None:
    benchmark.group = "Anthropic messages call over MockTransport"
    raw, wrapped = messages_call(clients[0]), messages_call(clients[1])
    leave = fresh_context()
    try:
        benchmark(wrapped)
    finally:
        leave()
    leave = fresh_context()
    try:
        pair = figures.compare(
            "wrapped Anthropic messages call, the call itself",
            raw,
            wrapped,
            baseline_name="raw SDK",
            paired_calls=2_000,
        )
        settled = settle_per_call(
            clients[1], batches=3 if figures.quick else 30, make=messages_call
        )
    finally:
        leave()
    figures.record(
        "wrapped Anthropic messages call",
        (pair.subject + settled) / pair.baseline,
        unit="x",
        goal="at most",
        target=1.02,
        detail=(
            f"{format_seconds(pair.subject - pair.baseline)} on the call + "
            f"{format_seconds(settled)} deferred, vs {format_seconds(pair.baseline)} (raw SDK)"
        ),
    )


def test_messages_call_under_a_budget(
    benchmark: Any, figures: Any, clients: tuple[Any, Any]
) -> None:
    benchmark.group = "Anthropic messages call over MockTransport"
    raw, wrapped = messages_call(clients[0]), messages_call(clients[1])
    leave = fresh_context(AMPLE)
    try:
        benchmark(wrapped)
    finally:
        leave()
    leave = fresh_context(AMPLE)
    try:
        pair = figures.compare(
            "Anthropic messages call under a budget, the call itself",
            raw,
            wrapped,
            baseline_name="raw SDK",
            paired_calls=2_000,
        )
        settled = settle_per_call(
            clients[1], batches=3 if figures.quick else 30, make=messages_call
        )
    finally:
        leave()
    figures.record(
        "Anthropic messages call under a budget",
        (pair.subject + settled) / pair.baseline,
        unit="x",
        goal="at most",
        target=1.10,
        detail=(
            f"{format_seconds(pair.subject - pair.baseline)} on the call (max_tokens "
            f"reserved) + {format_seconds(settled)} deferred, vs "
            f"{format_seconds(pair.baseline)} (raw SDK)"
        ),
    )


def test_messages_stream(benchmark: Any, figures: Any, clients: tuple[Any, Any]) -> None:
    benchmark.group = f"Anthropic stream of {STREAM_DELTAS} deltas over MockTransport"
    raw, wrapped = messages_stream(clients[0]), messages_stream(clients[1])
    leave = fresh_context()
    try:
        benchmark(wrapped)
        figures.compare(
            f"wrapped Anthropic stream ({STREAM_DELTAS} deltas)",
            raw,
            wrapped,
            baseline_name="raw SDK",
            paired_calls=100,
        )
    finally:
        leave()


# -- command line ----------------------------------------------------------------------------


def main() -> None:
    """Print the ratios (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    rounds = parser.parse_args().rounds
    with (
        configure(sinks=[]),
        make_client(wrapped=False) as raw_client,
        make_client(wrapped=True) as wrapped_client,
        ai_usage_context("bench_anthropic"),
    ):
        call = paired(messages_call(raw_client), messages_call(wrapped_client), calls=100 * rounds)
        settled = settle_per_call(wrapped_client, batches=2 * rounds, make=messages_call)
        ratio = (call.subject + settled) / call.baseline
        print(
            f"messages call: raw {call.baseline * 1e6:8.1f} us   wrapped "
            f"{call.subject * 1e6:8.1f} us + deferred {settled * 1e6:.1f} us   ratio "
            f"{ratio:.4f}   overhead {(call.overhead + settled) * 1e6:+.1f} us (medians)"
        )
        stream = paired(
            messages_stream(raw_client), messages_stream(wrapped_client), calls=5 * rounds
        )
        print(
            f"stream:        raw {stream.baseline * 1e3:8.2f} ms   wrapped "
            f"{stream.subject * 1e3:8.2f} ms   ratio {stream.ratio:.4f}"
        )


if __name__ == "__main__":
    main()
