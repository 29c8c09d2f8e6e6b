"""The same operations measured with aiusage and with its peers, side by side.

::

    python benchmarks/compare_peers.py              # measure; table into docs/performance.md
    python benchmarks/compare_peers.py --no-write   # measure and print only
    python benchmarks/compare_peers.py --rounds 61  # more rounds (default 41)

The peers are installed by this script alone, into a virtual environment of its own,
``.peers-venv/`` at the repository root (git-ignored), together with this project; they are
never dependencies of pytest-aiusage. Pinned versions are in ``PEERS`` below. Everything runs
offline: every client talks to ``httpx2.MockTransport`` with the canned bodies of
``bench_openai.py``.

Each peer runs in a subprocess of its own (instrumentations patch the SDK globally) and
measures, against the natural baseline in the same process:

* the tracking scope entered and left, against ``contextlib.nullcontext`` (aiusage's
  ``ai_usage_context``, LangChain's ``get_openai_callback``, shekel's ``budget``, and for
  OpenTelemetry, which has no usage scope, a span: ``start_as_current_span``);
* a tracked non-streaming chat call, against the same call with the raw SDK;
* a tracked 200-chunk chat stream read to the end, against the raw SDK's.

Scopes are timed in interleaved rounds (best round of each, ``_measure.interleaved``).
Calls take milliseconds, and best-of-rounds ratios of those jump by 10% on a shared machine,
so they are timed in pairs, call by call (``_measure.paired``: the median of the pairs'
differences), with the tracker active throughout; the baseline is the same SDK method
without the peer's wrapping: another client for aiusage and LangChain, the method the peer
patched over for shekel and OpenTelemetry.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import platform
import subprocess
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
VENV = ROOT / ".peers-venv"
DOC = ROOT / "docs" / "performance.md"
BEGIN, END = "<!-- peers:begin -->", "<!-- peers:end -->"

PEERS: dict[str, list[str]] = {
    "aiusage": [],
    "aiusage-budget": [],
    "langchain": ["langchain-openai==1.7.4", "langchain-community==0.4.2"],
    "shekel": ["shekel==1.2.0"],
    # 2.4b0 imports opentelemetry.util.genai.instruments, which util-genai 1.2b0 removed.
    "opentelemetry": [
        "opentelemetry-instrumentation-openai-v2==2.4b0",
        "opentelemetry-util-genai==1.1b0",
        "opentelemetry-sdk>=1.39",
    ],
}
"""Each peer and the pinned packages it needs (aiusage: this project, installed anyway)."""

SCOPES = {
    "aiusage": "`with ai_usage_context(...)`",
    "aiusage-budget": "`with ai_usage_context(..., budget=Budget(usd=...))`",
    "langchain": "`with get_openai_callback()`",
    "shekel": "`with budget(max_usd=...)`",
    "opentelemetry": "`with tracer.start_as_current_span(...)` (no usage scope)",
}
TRACKING = {
    "aiusage": "`wrap_openai(client)` in a usage context",
    "aiusage-budget": (
        "the same in a context with a hard budget (each call reserves its worst case before "
        "it is sent)"
    ),
    "langchain": "`ChatOpenAI(http_client=...)` in `get_openai_callback()`",
    "shekel": "raw client in `budget()` (shekel patches the SDK on entry)",
    "opentelemetry": "`OpenAIInstrumentor().instrument()` (spans to a no-op exporter)",
}

# -- the environment ------------------------------------------------------------------------


def _venv_python() -> Path:
    return VENV / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def ensure_venv() -> Path:
    """Create ``.peers-venv`` with this project and the pinned peers, once per pin list."""
    wanted = sorted({pin for pins in PEERS.values() for pin in pins})
    stamp = VENV / "aiusage-peers.json"
    python = _venv_python()
    if python.exists() and stamp.exists() and json.loads(stamp.read_text()) == wanted:
        return python
    print(f"creating {VENV.relative_to(ROOT)} (peers: {', '.join(wanted)})", flush=True)
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(VENV)], check=True)
    pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*pip, "-e", str(ROOT), *wanted], check=True)
    stamp.write_text(json.dumps(wanted))
    return python


# -- measuring (inside the venv) ------------------------------------------------------------


def _calibrate(fn: Callable[[], object], seconds: float) -> int:
    """How many calls of ``fn`` take about ``seconds``."""
    fn()
    start = time.perf_counter()
    fn()
    once = max(time.perf_counter() - start, 1e-7)
    return max(1, min(100_000, int(seconds / once)))


def _scope_figure(scope: Callable[[], Any], rounds: int) -> dict[str, float]:
    from _measure import interleaved

    def null() -> None:
        with contextlib.nullcontext():
            pass

    def subject() -> None:
        with scope():
            pass

    number = _calibrate(subject, 0.02)
    return _figure(interleaved(null, subject, number=number, rounds=rounds))


def _figure(pair: Any) -> dict[str, float]:
    return {"baseline_s": pair.baseline, "subject_s": pair.subject, "ratio": pair.ratio}


def _http_client(handler: Any) -> Any:
    import httpx2
    import openai

    return openai.DefaultHttpxClient(transport=httpx2.MockTransport(handler))


def _make_sdk_client(handler: Any) -> Any:
    import openai

    return openai.OpenAI(
        api_key="sk-bench",
        base_url="http://bench.invalid/v1",
        max_retries=0,
        http_client=_http_client(handler),
    )


def _sdk_calls(create: Callable[..., Any]) -> tuple[Callable[[], Any], Callable[[], Any]]:
    """A chat call and a read-to-the-end chat stream made with ``create`` (a ``create``
    method, patched by a peer or not)."""
    import bench_openai

    def call() -> Any:
        return create(model="gpt-4o-mini", messages=bench_openai.MESSAGES)

    def stream() -> Any:
        return list(
            create(
                model="gpt-4o-mini",
                messages=bench_openai.MESSAGES,
                stream=True,
                stream_options={"include_usage": True},
            )
        )

    return call, stream


def measure(peer: str, rounds: int) -> dict[str, Any]:
    """Every figure of ``peer`` (run inside ``.peers-venv``).

    Calls are timed in pairs (baseline, tracked) with the tracker active throughout: the
    baseline is the same SDK method without the peer's wrapping (another client for us and
    LangChain, the method the peer patched over for shekel and OpenTelemetry).
    """
    sys.path.insert(0, str(HERE))
    warnings.simplefilter("ignore")  # deprecation notices of the peers are not our business
    import bench_openai
    from _measure import paired

    raw = _make_sdk_client(bench_openai._handler)
    # Looked up at each call: shekel and OpenTelemetry patch the method after this line.
    raw_call, raw_stream = _sdk_calls(lambda **kw: raw.chat.completions.create(**kw))
    result: dict[str, Any] = {"peer": peer}
    stack = contextlib.ExitStack()
    scope: Callable[[], Any]

    if peer in ("aiusage", "aiusage-budget"):
        from aiusage_core import Budget, ai_usage_context, configure, wrap_openai

        configure(sinks=[])
        tracked = wrap_openai(_make_sdk_client(bench_openai._handler))
        # As shekel's: a limit the run never reaches, so every call reserves and releases.
        limit = Budget(usd=1_000) if peer == "aiusage-budget" else None
        scope = lambda: ai_usage_context("bench", budget=limit)  # noqa: E731
        call, stream = _sdk_calls(lambda **kw: tracked.chat.completions.create(**kw))
        base_call, base_stream = raw_call, raw_stream
        with ai_usage_context("check") as check:
            call(), stream()
        captured = f"tokens {check.totals.total_tokens}, cost ${check.totals.cost_usd}"
        stack.enter_context(scope())
    elif peer == "langchain":
        from langchain_community.callbacks import get_openai_callback
        from langchain_openai import ChatOpenAI

        llm = ChatOpenAI(
            model="gpt-4o-mini",
            api_key="sk-bench",  # type: ignore[arg-type]
            base_url="http://bench.invalid/v1",
            max_retries=0,
            # The SDK's HTTP client over the mock transport, as for every peer.
            http_client=_http_client(bench_openai._handler),
            stream_usage=True,
        )
        scope = get_openai_callback

        def call() -> Any:
            return llm.invoke(bench_openai.MESSAGES)

        def stream() -> Any:
            return list(llm.stream(bench_openai.MESSAGES))

        def call_in_callback() -> Any:
            with get_openai_callback():
                return llm.invoke(bench_openai.MESSAGES)

        base_call, base_stream = raw_call, raw_stream
        with get_openai_callback() as cb:
            call()
            call_tokens, call_cost = cb.total_tokens, cb.total_cost
            stream()
        captured = (
            f"call: tokens {call_tokens}, cost ${call_cost:.7f}; stream: tokens "
            f"{cb.total_tokens - call_tokens}, cost ${cb.total_cost - call_cost:.7f}"
        )
        # The callback alone: ChatOpenAI inside it against ChatOpenAI outside it.
        result["chat_call_tracking_only"] = _figure(
            paired(call, call_in_callback, calls=rounds * 10)
        )
        stack.enter_context(scope())
    elif peer == "shekel":
        import openai.resources.chat.completions as chat
        from shekel import budget

        scope = lambda: budget(max_usd=1_000.0)  # noqa: E731
        unpatched = chat.Completions.create
        spent = stack.enter_context(budget(max_usd=1_000.0))  # patches Completions.create
        call, stream = raw_call, raw_stream
        base_call, base_stream = _sdk_calls(lambda **kw: unpatched(raw.chat.completions, **kw))
        call(), stream()
        captured = f"cost ${spent.spent:.7f}"
    elif peer == "opentelemetry":
        import openai.resources.chat.completions as chat
        from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import (
            SimpleSpanProcessor,
            SpanExporter,
            SpanExportResult,
        )

        seen: list[Any] = []

        class _Drop(SpanExporter):
            def export(self, spans: Any) -> SpanExportResult:
                seen.extend(spans)
                del seen[:-4]  # keep the last few for the check below, not thousands
                return SpanExportResult.SUCCESS

        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(_Drop()))
        tracer = provider.get_tracer("bench")
        scope = lambda: tracer.start_as_current_span("bench")  # noqa: E731
        unpatched = chat.Completions.create
        instrumentor = OpenAIInstrumentor()
        instrumentor.instrument(tracer_provider=provider, meter_provider=MeterProvider())
        stack.callback(instrumentor.uninstrument)
        call, stream = raw_call, raw_stream
        base_call, base_stream = _sdk_calls(lambda **kw: unpatched(raw.chat.completions, **kw))
        call(), stream()
        usage = [
            (s.attributes or {}).get("gen_ai.usage.input_tokens", 0)
            + (s.attributes or {}).get("gen_ai.usage.output_tokens", 0)
            for s in seen[-2:]
        ]
        captured = f"tokens {sum(usage)} (span attributes), no cost"
    else:
        raise SystemExit(f"unknown peer {peer!r}")

    with stack:
        call_pair = paired(base_call, call, calls=rounds * 20)
        result["chat_call"] = _figure(call_pair)
        if peer in ("aiusage", "aiusage-budget"):
            # aiusage makes its records in batches, in one call of SETTLE_EVERY, which a
            # median of paired calls leaves out: add the batch work per call, timed alone.
            settled = bench_openai.settle_per_call(tracked, batches=rounds)
            result["chat_call"] = {
                "baseline_s": call_pair.baseline,
                "subject_s": call_pair.subject + settled,
                "ratio": (call_pair.subject + settled) / call_pair.baseline,
            }
        result["chat_stream"] = _figure(paired(base_stream, stream, calls=rounds * 2))
    result["scope"] = _scope_figure(scope, rounds)
    result["captured"] = captured
    result["versions"] = _versions(PEERS[peer] or ["openai"])
    return result


def _versions(pins: list[str]) -> str:
    from importlib.metadata import version

    names = [pin.split("=")[0].split(">")[0] for pin in pins]
    return ", ".join(f"{name} {version(name)}" for name in names if "util-genai" not in name)


# -- the table ------------------------------------------------------------------------------


def _us(seconds: float) -> str:
    return f"{seconds * 1e6:,.1f} us" if seconds < 1e-3 else f"{seconds * 1e3:,.2f} ms"


def table(results: list[dict[str, Any]], command: str, rounds: int) -> str:
    """The Markdown table of ratios (and how it was made)."""
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    load = f"{os.getloadavg()[0]:.2f}" if hasattr(os, "getloadavg") else "n/a"
    lines = [
        f"Measured {now} with `{command}`: CPython {platform.python_version()}, "
        f"{os.cpu_count()} cores shared with other work (load average {load} at the end), "
        f"openai {results[0].get('openai', '3.x')} over `httpx2.MockTransport`. Scopes: "
        f"best of {rounds} interleaved rounds; calls: median of {rounds * 20:,} paired calls; "
        f"streams: median of {rounds * 2:,} paired streams.",
        "",
        "| peer (versions) | scope | scope enter+exit vs `nullcontext` | tracked chat call "
        "vs raw SDK | tracked 200-chunk stream vs raw SDK | captured by the tracker |",
        "|---|---|---|---|---|---|",
    ]
    for r in results:
        scope, call, stream = r["scope"], r["chat_call"], r["chat_stream"]
        per_chunk = (stream["subject_s"] - stream["baseline_s"]) / 201
        call_text = f"{call['ratio']:.3f}x ({_us(call['subject_s'])} vs {_us(call['baseline_s'])})"
        if "chat_call_tracking_only" in r:
            alone = r["chat_call_tracking_only"]
            call_text += (
                f"; the callback alone: {alone['ratio']:.3f}x over `ChatOpenAI.invoke` without it"
            )
        lines.append(
            f"| {r['peer']} ({r['versions']}) | {SCOPES[r['peer']]} | "
            f"{scope['ratio']:,.1f}x ({_us(scope['subject_s'])}) | {call_text} | "
            f"{stream['ratio']:.3f}x ({per_chunk * 1e9:+,.0f} ns/chunk) | {r['captured']} |"
        )
    lines += [
        "",
        "How each peer tracks a call: "
        + "; ".join(f"{peer}: {how}" for peer, how in TRACKING.items())
        + ".",
    ]
    return "\n".join(lines)


def write_doc(text: str) -> None:
    """Put ``text`` between the peer markers of docs/performance.md."""
    doc = DOC.read_text()
    if BEGIN not in doc or END not in doc:
        raise SystemExit(f"{DOC} has no {BEGIN} ... {END} markers")
    head, rest = doc.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    DOC.write_text(f"{head}{BEGIN}\n{text}\n{END}{tail}")


def main(argv: list[str] | None = None) -> int:
    """Set the venv up, measure every peer in it, write or print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=41)
    parser.add_argument("--no-write", action="store_true", help="print the table only")
    parser.add_argument("--peer", action="append", choices=sorted(PEERS), help="only these")
    parser.add_argument("--measure", choices=sorted(PEERS), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.measure:  # inside the venv
        result = measure(args.measure, args.rounds)
        from importlib.metadata import version

        result["openai"] = version("openai")
        print(json.dumps(result))
        return 0
    python = ensure_venv()
    results = []
    for peer in args.peer or list(PEERS):
        print(f"measuring {peer} ...", flush=True)
        done = subprocess.run(
            [
                str(python),
                str(Path(__file__).resolve()),
                "--measure",
                peer,
                "--rounds",
                str(args.rounds),
            ],
            capture_output=True,
            text=True,
            check=False,
            cwd=ROOT,
        )
        if done.returncode != 0:
            print(done.stdout, done.stderr, sep="\n", file=sys.stderr)
            raise SystemExit(f"measuring {peer} failed")
        results.append(json.loads(done.stdout.strip().splitlines()[-1]))
    command = "python benchmarks/compare_peers.py" + (
        f" --rounds {args.rounds}" if args.rounds != 41 else ""
    )
    text = table(results, command, args.rounds)
    print(text)
    if not args.no_write and not args.peer:
        write_doc(text)
        print(f"written to {DOC.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
