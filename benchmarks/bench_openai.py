"""What tracking costs on an OpenAI call: a wrapped client against the raw SDK.

The SDK talks to ``httpx2.MockTransport`` (canned bodies, no network), so the figures are the
SDK's own work plus ours. Two ways to run it from the repository root::

    python -m pytest benchmarks/bench_openai.py -p no:cacheprovider   # with the whole suite
    python benchmarks/bench_openai.py                                  # the ratios alone

Both alternate raw and wrapped rounds and keep the best of each (``_measure.interleaved``),
which filters out noise from other work on the machine. Figures:

* the wrapped/raw time ratio of a non-streaming chat call (target: at most 1.02; issue 3
  accepts 1.05), of the same call (with ``max_tokens``) under a budget (target: at most
  1.10), and of a 200-chunk chat stream read to the end;
* what a budget adds to a wrapped call: the same call with and without a budget, call by
  call in pairs (no target; the ratio against the raw SDK above is the one judged);
* the time our tracking code takes per call, measured around a stub that returns a parsed
  completion at once (so neither HTTP nor parsing, nor the noise they bring, is in it): the
  most stable figure on a busy machine;
* the overhead per chunk of the stream loop alone (target: at most 1 us), measured on
  prebuilt chunks so that parsing does not drown it.
"""

from __future__ import annotations

import argparse
import contextvars
import json
import statistics
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx2
import openai
import pytest
from _measure import format_seconds, interleaved, paired
from openai._models import FinalRequestOptions, construct_type
from openai.types.chat import ChatCompletion, ChatCompletionChunk

from aiusage_core import Budget, ai_usage_context, configure, wrap_openai
from aiusage_core._calls import CallStart, PendingCall
from aiusage_core._delivery import SETTLE_EVERY, settle
from aiusage_core._providers.openai import OPENAI
from aiusage_core._sdk._call import call_sync
from aiusage_core._sdk._stream import _CALL_KEY, _items, _iterate_sync
from aiusage_core._tracking import DEFAULT_OPTIONS

MESSAGES: list[Any] = [{"role": "user", "content": "Say hello."}]
STREAM_CHUNKS = 200

_COMPLETION = json.dumps(
    {
        "id": "chatcmpl-bench",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": "gpt-4o-mini-2024-07-18",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "Hello!", "refusal": None},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": {
            "prompt_tokens": 12,
            "completion_tokens": 3,
            "total_tokens": 15,
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0},
        },
        "service_tier": "default",
        "system_fingerprint": "fp_bench",
    }
).encode()


def _chunk(**fields: Any) -> dict[str, Any]:
    return {
        "id": "chatcmpl-bench",
        "object": "chat.completion.chunk",
        "created": 1_700_000_000,
        "model": "gpt-4o-mini-2024-07-18",
        "service_tier": "default",
        **fields,
    }


def _sse(chunks: list[dict[str, Any]]) -> bytes:
    lines = [b"data: " + json.dumps(chunk).encode() + b"\n\n" for chunk in chunks]
    return b"".join([*lines, b"data: [DONE]\n\n"])


_CONTENT_CHUNKS = [
    _chunk(choices=[{"index": 0, "delta": {"content": "word "}, "finish_reason": None}])
    for _ in range(STREAM_CHUNKS)
]
_USAGE_CHUNK = _chunk(
    choices=[], usage={"prompt_tokens": 12, "completion_tokens": STREAM_CHUNKS, "total_tokens": 212}
)
_STREAM = _sse([*_CONTENT_CHUNKS, _USAGE_CHUNK])


def _handler(request: httpx2.Request) -> httpx2.Response:
    headers = {"x-request-id": "req_bench"}
    if b'"stream":true' in request.content:
        return httpx2.Response(
            200, content=_STREAM, headers={**headers, "content-type": "text/event-stream"}
        )
    return httpx2.Response(
        200, content=_COMPLETION, headers={**headers, "content-type": "application/json"}
    )


def make_client(*, wrapped: bool) -> openai.OpenAI:
    """An SDK client over the mock transport, wrapped or not."""
    client = openai.OpenAI(
        api_key="sk-bench",
        base_url="http://bench.invalid/v1",
        max_retries=0,
        http_client=openai.DefaultHttpxClient(transport=httpx2.MockTransport(_handler)),
    )
    return wrap_openai(client) if wrapped else client


def chat_call(client: openai.OpenAI) -> Callable[[], object]:
    """One non-streaming chat call."""
    return lambda: client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)


def capped_chat_call(client: openai.OpenAI) -> Callable[[], object]:
    """One non-streaming chat call with an output cap (as calls under a budget have)."""
    return lambda: client.chat.completions.create(
        model="gpt-4o-mini", messages=MESSAGES, max_tokens=50
    )


def chat_stream(client: openai.OpenAI) -> Callable[[], object]:
    """One chat stream of ``STREAM_CHUNKS`` chunks plus the usage chunk, read to the end."""
    return lambda: list(
        client.chat.completions.create(
            model="gpt-4o-mini",
            messages=MESSAGES,
            stream=True,
            stream_options={"include_usage": True},
        )
    )


_PREBUILT = [construct_type(type_=ChatCompletionChunk, value=c) for c in _CONTENT_CHUNKS]


def _plain_loop(chunks: list[Any]) -> Iterator[Any]:
    # The SDK's own Stream.__iter__ is a generator too: compare generator with generator.
    yield from chunks


def loop_raw() -> None:
    """The prebuilt chunks through a bare generator."""
    for _ in _plain_loop(_PREBUILT):
        pass


class _PrebuiltStream:
    """Stands for an SDK stream over the prebuilt chunks, our loop already installed."""

    def __init__(self, call: PendingCall) -> None:
        self.call = call
        self.__dict__[_CALL_KEY] = call

    def __iter__(self) -> Iterator[Any]:
        return _items(_plain_loop(_PREBUILT), self.call)


_tracked_iter = _iterate_sync(_PrebuiltStream)


def loop_tracked() -> None:
    """The prebuilt chunks through a bare generator, our stream loop and the ``__iter__``
    that notices a loop left before the end: every layer tracking adds to a stream."""
    call = PendingCall(CallStart(OPENAI, "chat", "openai", "gpt-4o-mini", context=None))
    call._open.pop()  # measure the loop, not the record made at its end
    for _ in _tracked_iter(_PrebuiltStream(call)):
        pass


_PARSED = construct_type(type_=ChatCompletion, value=json.loads(_COMPLETION))
_OPTIONS = FinalRequestOptions.construct(
    method="post", url="/chat/completions", json_data={"model": "gpt-4o-mini", "messages": []}
)


_STUB_CLIENT = openai.OpenAI(api_key="sk-bench", base_url="http://bench.invalid/v1")


def _stub_send(cast_to: Any, options: Any, **kwargs: Any) -> Any:
    return _PARSED


def stub_raw() -> None:
    """The stub 'request' alone."""
    _stub_send(ChatCompletion, _OPTIONS, stream=False)


def stub_tracked() -> None:
    """The stub 'request' through our tracking: usage, price, record."""
    call_sync(OPENAI, _STUB_CLIENT, _stub_send, DEFAULT_OPTIONS, ChatCompletion, _OPTIONS, (), {})


def settle_per_call(
    client: openai.OpenAI,
    *,
    batches: int,
    make: Callable[[openai.OpenAI], Callable[[], object]] = chat_call,
) -> float:
    """Seconds per call of the work deferred from the call (pricing, the record, the totals).

    A wrapped call queues its usage; the call that fills the queue (``SETTLE_EVERY``) makes
    all the queued records in one batch. A median over paired calls leaves that one call out,
    so the batch is timed here on its own: real calls queue ``SETTLE_EVERY - 1`` records (one
    short of the batch), :func:`~aiusage_core._delivery.settle` makes them; the median over
    ``batches`` batches, per record.
    """
    call = make(client)
    per_record: list[float] = []
    for _ in range(batches):
        settle()
        for _ in range(SETTLE_EVERY - 1):
            call()
        start = time.perf_counter()
        settle()
        per_record.append((time.perf_counter() - start) / (SETTLE_EVERY - 1))
    return statistics.median(per_record)


# -- pytest-benchmark ----------------------------------------------------------------------


def fresh_context(budget: Budget | None = None) -> Callable[[], None]:
    """Enter a new usage context for one round; return what leaves it (records kept by a
    long-lived context would make later rounds pay for the garbage collector walking them)."""
    context = ai_usage_context("round", budget=budget)
    context.__enter__()
    return lambda: context.__exit__(None, None, None)


AMPLE = Budget(usd=1_000_000, calls=10**9)
"""A budget the benchmark never reaches: every call reserves and releases on it."""


@pytest.fixture
def clients() -> Iterator[tuple[openai.OpenAI, openai.OpenAI]]:
    """A raw and a wrapped client over the mock transport."""
    with make_client(wrapped=False) as raw, make_client(wrapped=True) as wrapped:
        yield raw, wrapped


def test_chat_call(benchmark: Any, figures: Any, clients: tuple[Any, Any]) -> None:
    benchmark.group = "OpenAI chat call over MockTransport"
    raw, wrapped = chat_call(clients[0]), chat_call(clients[1])
    leave = fresh_context()
    try:
        benchmark(wrapped)
    finally:
        leave()
    leave = fresh_context()
    try:
        pair = figures.compare(
            "wrapped chat call, the call itself",
            raw,
            wrapped,
            baseline_name="raw SDK",
            paired_calls=2_000,
        )
        settled = settle_per_call(clients[1], batches=3 if figures.quick else 30)
    finally:
        leave()
    figures.record(
        "deferred record work per call",
        settled * 1e6,
        unit="us",
        detail=f"pricing, the record, the totals: made in batches of {SETTLE_EVERY}",
    )
    figures.record(
        "wrapped chat call",
        (pair.subject + settled) / pair.baseline,
        unit="x",
        goal="at most",
        target=1.02,
        detail=(
            f"{format_seconds(pair.subject - pair.baseline)} on the call + "
            f"{format_seconds(settled)} deferred, vs {format_seconds(pair.baseline)} (raw SDK)"
        ),
    )


def test_chat_call_under_a_budget(benchmark: Any, figures: Any, clients: tuple[Any, Any]) -> None:
    benchmark.group = "OpenAI chat call over MockTransport"
    raw, wrapped = capped_chat_call(clients[0]), capped_chat_call(clients[1])
    leave = fresh_context(AMPLE)
    try:
        benchmark(wrapped)
    finally:
        leave()
    leave = fresh_context(AMPLE)
    try:
        pair = figures.compare(
            "chat call under a budget, the call itself",
            raw,
            wrapped,
            baseline_name="raw SDK",
            paired_calls=2_000,
        )
        settled = settle_per_call(
            clients[1], batches=3 if figures.quick else 30, make=capped_chat_call
        )
    finally:
        leave()
    figures.record(
        "chat call under a budget",
        (pair.subject + settled) / pair.baseline,
        unit="x",
        goal="at most",
        target=1.10,
        detail=(
            f"{format_seconds(pair.subject - pair.baseline)} on the call (its worst case "
            f"reserved) + {format_seconds(settled)} deferred (the record, the reservation "
            f"released), vs {format_seconds(pair.baseline)} (raw SDK)"
        ),
    )


def entered(budget: Budget | None) -> tuple[contextvars.Context, Callable[[], None]]:
    """A copy of the current ``contextvars`` context with a usage context entered in it, and
    what leaves it: calls run in it with ``.run`` are made inside that usage context."""
    context = contextvars.copy_context()
    usage = ai_usage_context("round", budget=budget)
    context.run(usage.__enter__)
    return context, lambda: context.run(usage.__exit__, None, None, None)


def test_budget_cost_per_call(benchmark: Any, figures: Any, clients: tuple[Any, Any]) -> None:
    """What a budget adds to a wrapped call, timed against the same wrapped call without one:
    the two alternate call by call, each in a usage context entered once (one with a budget),
    so the only difference is the budget's reservation, its release and its accounting."""
    benchmark.group = "OpenAI chat call over MockTransport"
    call = capped_chat_call(clients[1])
    plain, leave_plain = entered(None)
    budgeted, leave_budgeted = entered(AMPLE)
    try:
        benchmark(lambda: budgeted.run(call))
        pair = figures.compare(
            "wrapped chat call under a budget vs without one, the call itself",
            lambda: plain.run(call),
            lambda: budgeted.run(call),
            baseline_name="the wrapped call without a budget",
            paired_calls=2_000,
        )
        batches = 3 if figures.quick else 30
        settled = [
            context.run(settle_per_call, clients[1], batches=batches, make=capped_chat_call)
            for context in (plain, budgeted, plain, budgeted)
        ]
    finally:
        leave_plain()
        leave_budgeted()
    deferred = min(settled[1], settled[3]) - min(settled[0], settled[2])
    figures.record(
        "a budget's own cost per call",
        (pair.subject - pair.baseline + deferred) * 1e6,
        unit="us",
        detail=(
            f"{format_seconds(pair.subject - pair.baseline)} on the call (the worst case "
            f"reserved) + {format_seconds(deferred)} deferred (the budget charged, the "
            f"reservation released), on a wrapped call of {format_seconds(pair.baseline)}"
        ),
    )


def test_chat_stream(benchmark: Any, figures: Any, clients: tuple[Any, Any]) -> None:
    benchmark.group = f"OpenAI chat stream of {STREAM_CHUNKS} chunks over MockTransport"
    raw, wrapped = chat_stream(clients[0]), chat_stream(clients[1])
    leave = fresh_context()
    try:
        benchmark(wrapped)
        figures.compare(
            f"wrapped chat stream ({STREAM_CHUNKS} chunks)",
            raw,
            wrapped,
            baseline_name="raw SDK",
            paired_calls=100,
        )
    finally:
        leave()


def test_stream_chunk_overhead(benchmark: Any, figures: Any) -> None:
    benchmark.group = f"stream loop over {STREAM_CHUNKS} prebuilt chunks"
    benchmark(loop_tracked)
    pair = figures.compare(
        "stream loop, prebuilt chunks",
        loop_raw,
        loop_tracked,
        baseline_name="bare generator",
        number=500,
    )
    figures.record(
        "stream overhead per chunk",
        pair.overhead / STREAM_CHUNKS * 1e9,
        unit="ns",
        goal="at most",
        target=1_000,
        detail=f"our stream loop over a bare generator, best of {pair.rounds} rounds",
    )


def test_tracking_alone(benchmark: Any, figures: Any) -> None:
    benchmark.group = "a stub request, with our tracking"
    leave = fresh_context()
    try:
        benchmark(stub_tracked)
    finally:
        leave()
    pair = figures.compare(
        "tracking around a stub request",
        stub_raw,
        stub_tracked,
        baseline_name="the stub alone",
        number=2_000,
        setup=fresh_context,
    )
    figures.record(
        "tracking per chat call",
        pair.overhead * 1e6,
        unit="us",
        detail="usage extraction, pricing, the record; no HTTP, no parsing",
    )


# -- command line ----------------------------------------------------------------------------


def main() -> None:
    """Print the ratios (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    rounds = args.rounds
    with (
        configure(sinks=[]),
        make_client(wrapped=False) as raw_client,
        make_client(wrapped=True) as wrapped_client,
        ai_usage_context("bench_openai"),
    ):
        call = paired(chat_call(raw_client), chat_call(wrapped_client), calls=100 * rounds)
        settled = settle_per_call(wrapped_client, batches=2 * rounds)
        ratio = (call.subject + settled) / call.baseline
        print(
            f"chat call:   raw {call.baseline * 1e6:8.1f} us   wrapped {call.subject * 1e6:8.1f} us"
            f" + deferred {settled * 1e6:.1f} us   ratio {ratio:.4f}"
            f"   overhead {(call.overhead + settled) * 1e6:+.1f} us (medians)"
        )
        stream = paired(chat_stream(raw_client), chat_stream(wrapped_client), calls=5 * rounds)
        print(
            f"chat stream: raw {stream.baseline * 1e3:8.2f} ms   wrapped "
            f"{stream.subject * 1e3:8.2f} ms   ratio {stream.ratio:.4f}"
        )
    stub = interleaved(stub_raw, stub_tracked, number=2000, rounds=rounds, setup=fresh_context)
    print(
        f"tracking:    {stub.overhead * 1e6:.1f} us per call = "
        f"{stub.overhead / call.baseline:.2%} of the raw call"
    )
    loop = interleaved(loop_raw, loop_tracked, number=500, rounds=rounds)
    print(
        f"stream loop: {loop.overhead / STREAM_CHUNKS * 1e9:.0f} ns per chunk over a bare generator"
    )


if __name__ == "__main__":
    main()
