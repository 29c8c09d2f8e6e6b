"""Running the fake server on its own: ``aiusage fake-server`` and
``python -m pytest_aiusage.fake_openai``.

It prints the base URL and the environment to export, logs every request on standard output,
and stops on Ctrl-C (SIGINT) or SIGTERM with exit status 0.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType

__all__ = ["add_arguments", "main", "serve"]

_DESCRIPTION = """\
Serve the fake OpenAI API (pytest_aiusage.fake_openai.FakeOpenAI) on a local port:
deterministic replies, real token counts and wire format, no key needed."""
_EPILOG = """\
It prints the base URL and the environment to export, logs each request, and stops on
Ctrl-C. To record a test suite's cassettes against it, 'pytest --aiusage-record' is enough
(it starts a server of its own).

examples:
  aiusage fake-server
  aiusage fake-server --port 0 --model my-finetune
  python -m pytest_aiusage.fake_openai --port 8000
"""
_USAGE_ERROR = 2


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The command's description and options, on ``parser`` (shared by both ways of
    running it)."""
    parser.description = _DESCRIPTION
    parser.epilog = _EPILOG
    parser.add_argument(
        "--host", default="127.0.0.1", help="interface to listen on (default: 127.0.0.1)"
    )
    parser.add_argument(
        "--port", type=int, default=8000, help="port to listen on (default: 8000; 0: any free)"
    )
    parser.add_argument(
        "--model",
        metavar="NAME",
        action="append",
        default=[],
        help="also serve this model name (models genai-prices knows and ft:... fine-tunes "
        "are served; any other gets a 404 as from the real API); repeatable",
    )
    parser.add_argument(
        "--quiet", action="store_true", help="do not log each request on standard output"
    )


def serve(args: argparse.Namespace) -> int:
    """Run the server until Ctrl-C or SIGTERM; return the exit status."""
    from .fake_openai import FakeOpenAI

    server = FakeOpenAI(host=args.host, port=args.port, models=args.model)
    try:
        server.start()
    except OSError as exc:
        print(
            f"aiusage fake-server: error: cannot listen on {args.host}:{args.port}: "
            f"{exc.strerror or exc}",
            file=sys.stderr,
        )
        return _USAGE_ERROR
    log = logging.getLogger("aiusage.fake_openai")
    handler: logging.Handler | None = None
    if not args.quiet:
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {
        signum: signal.signal(signum, on_signal) for signum in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        lines = [
            f"FakeOpenAI is serving the OpenAI API at {server.url} (Ctrl-C to stop)",
            "Point the OpenAI SDK at it:",
            *(f"  export {name}={value}" for name, value in server.environment().items()),
        ]
        print("\n".join(lines), flush=True)
        stop.wait()
    finally:
        for signum, handler_before in previous.items():
            signal.signal(signum, handler_before)
        server.stop()
        if handler is not None:
            log.removeHandler(handler)
    print("FakeOpenAI stopped.", flush=True)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m pytest_aiusage.fake_openai [options]``."""
    parser = argparse.ArgumentParser(
        prog="python -m pytest_aiusage.fake_openai",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_arguments(parser)
    return serve(parser.parse_args(argv))
