"""Headless Chromium driven over the DevTools protocol, to check the HTML reports in a real
browser: load a file from disk, let its scripts run, evaluate JavaScript in the page, list
every network request it made, and take a screenshot.

The same code makes the screenshot in the docs::

    python tests/reports/chromium_testing.py REPORT.html docs/img/html-report.png

Chromium runs with a fresh profile, no sandbox (we run as root), and every background service
that would reach the network turned off, so any request seen is the page's own.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from websockets.sync.client import ClientConnection, connect

CHROMIUM_ENV = "AIUSAGE_CHROMIUM"
"""Names another Chromium binary than ``/usr/bin/chromium``."""
_START_TIMEOUT_S = 30.0
_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-dev-shm-usage",
    "--remote-debugging-port=0",
)


def chromium_binary() -> str:
    """Where the Chromium binary is looked for."""
    return os.environ.get(CHROMIUM_ENV, "/usr/bin/chromium")


def chromium_path() -> str | None:
    """The Chromium binary, or ``None`` when it is not installed."""
    found = shutil.which(chromium_binary())
    return found if found and os.access(found, os.X_OK) else None


def in_ci() -> bool:
    """Whether this is a CI run (``CI`` set to ``true``, ``1`` or ``yes``)."""
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def require_chromium() -> str:
    """The Chromium binary for a test that needs it. Missing, it fails the test under CI
    (``.ci/run`` installs it, so a skip there would hide the browser checks) and skips it
    locally, with one reason."""
    path = chromium_path()
    if path is not None:
        return path
    reason = (
        f"headless Chromium is not installed ({chromium_binary()}; "
        "Debian: apt-get install chromium)"
    )
    if in_ci():
        pytest.fail(f"CI must run the browser tests: {reason}", pytrace=False)
    pytest.skip(reason)


class Page:
    """One browser tab, talked to over its DevTools WebSocket."""

    def __init__(self, socket: ClientConnection) -> None:
        self._socket = socket
        self._next = 0
        self.events: list[dict[str, Any]] = []

    def send(self, method: str, **params: Any) -> dict[str, Any]:
        """Call ``method`` and return its result (events that arrive meanwhile are kept)."""
        self._next += 1
        ident = self._next
        self._socket.send(json.dumps({"id": ident, "method": method, "params": params}))
        while True:
            message = json.loads(self._socket.recv(timeout=_START_TIMEOUT_S))
            if message.get("id") == ident:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                result: dict[str, Any] = message.get("result", {})
                return result
            self.events.append(message)

    def wait_for(self, event: str) -> dict[str, Any]:
        """Wait for the next ``event`` (or return one already received)."""
        for index, message in enumerate(self.events):
            if message.get("method") == event:
                return self.events.pop(index)
        while True:
            message = json.loads(self._socket.recv(timeout=_START_TIMEOUT_S))
            if message.get("method") == event:
                return message
            self.events.append(message)

    def evaluate(self, expression: str) -> Any:
        """The value of ``expression`` (awaited if it is a promise), run in the page."""
        result = self.send(
            "Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True
        )
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression!r} raised: {result['exceptionDetails']}")
        return result["result"].get("value")

    def open(self, path: Path) -> None:
        """Load ``path`` from disk and wait until its load event (scripts have run)."""
        self.send("Page.enable")
        self.send("Network.enable")
        self.send("Runtime.enable")
        # A headless tab is not always the focused one: key presses could then land before
        # the page has focus. Emulated focus makes it behave as the window in front.
        self.send("Emulation.setFocusEmulationEnabled", enabled=True)
        self.send("Page.bringToFront")
        self.send("Page.navigate", url=path.resolve().as_uri())
        self.wait_for("Page.loadEventFired")

    def press(self, key: str) -> None:
        """Press and release ``key`` (``"Tab"``, ``"Enter"``, ``" "``) as the keyboard would:
        trusted events, so the browser moves the focus and activates buttons itself."""
        codes = {"Tab": ("Tab", 9, ""), "Enter": ("Enter", 13, "\r"), " ": ("Space", 32, " ")}
        code, number, text = codes[key]
        common = {"key": key, "code": code, "windowsVirtualKeyCode": number}
        self.send("Input.dispatchKeyEvent", type="keyDown", text=text, **common)
        self.send("Input.dispatchKeyEvent", type="keyUp", **common)

    def requests(self) -> list[str]:
        """The URL of every request the page made so far (the document itself included)."""
        self.send("Runtime.evaluate", expression="0")  # collect events still in flight
        return [
            e["params"]["request"]["url"]
            for e in self.events
            if e.get("method") == "Network.requestWillBeSent"
        ]

    def screenshot(self, target: Path, width: int = 1200, height: int = 900) -> None:
        """Save a PNG of the page, ``width`` wide and at most ``height`` tall."""
        self.send(
            "Emulation.setDeviceMetricsOverride",
            width=width,
            height=height,
            deviceScaleFactor=1,
            mobile=False,
        )
        shot = self.send("Page.captureScreenshot", format="png")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(base64.b64decode(shot["data"]))


def _devtools_port(profile: Path, process: subprocess.Popen[bytes]) -> int:
    # Chromium writes the port it picked (for --remote-debugging-port=0) to this file.
    marker = profile / "DevToolsActivePort"
    deadline = time.monotonic() + _START_TIMEOUT_S
    while time.monotonic() < deadline:
        if marker.exists():
            lines = marker.read_text().split()
            if lines:
                return int(lines[0])
        if process.poll() is not None:
            raise RuntimeError(f"chromium exited with status {process.returncode}")
        time.sleep(0.05)
    raise RuntimeError("chromium did not open its DevTools port in time")


@contextmanager
def chromium_page() -> Iterator[Page]:
    """A tab of a new headless Chromium with a fresh profile, closed afterwards."""
    binary = chromium_path()
    if binary is None:
        raise RuntimeError(f"no Chromium at {chromium_binary()}")
    with tempfile.TemporaryDirectory(prefix="aiusage-chromium-") as tmp:
        profile = Path(tmp)
        process = subprocess.Popen(
            [binary, *_FLAGS, f"--user-data-dir={profile}", "about:blank"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            port = _devtools_port(profile, process)
            with connect(f"ws://127.0.0.1:{port}" + _page_socket(port), max_size=None) as socket:
                yield Page(socket)
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _page_socket(port: int) -> str:
    from urllib.request import urlopen

    deadline = time.monotonic() + _START_TIMEOUT_S
    while True:
        with urlopen(f"http://127.0.0.1:{port}/json/list", timeout=5) as answer:
            targets = json.load(answer)
        pages = [t for t in targets if t.get("type") == "page"]
        if pages:
            url: str = pages[0]["webSocketDebuggerUrl"]
            return url.split(str(port), 1)[1]
        if time.monotonic() > deadline:
            raise RuntimeError("chromium has no page to drive")
        time.sleep(0.05)


def main(argv: list[str]) -> int:
    """``chromium_testing.py REPORT.html SHOT.png``: open the report, save a screenshot."""
    source, target = Path(argv[0]), Path(argv[1])
    with chromium_page() as page:
        page.open(source)
        page.screenshot(target, height=1500)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
