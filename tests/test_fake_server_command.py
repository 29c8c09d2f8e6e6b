"""The fake server run on its own, as a user runs it: a real subprocess, the real SDK, Ctrl-C."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest

from pytest_aiusage._cassettes._fixtures import DUMMY_API_KEY

_TIMEOUT = 60.0
_AIUSAGE = str(Path(sys.executable).with_name("aiusage"))


class Running:
    """A started server process and the lines it printed so far."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process
        self.lines: list[str] = []
        self._queue: queue.Queue[str] = queue.Queue()
        self._pumping = threading.Thread(target=self._pump, daemon=True)
        self._pumping.start()

    def close(self) -> None:
        """Kill the process if it still runs, and release its pipe."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(_TIMEOUT)
        self._pumping.join(_TIMEOUT)
        assert self.process.stdout is not None
        self.process.stdout.close()

    def _pump(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._queue.put(line.rstrip("\n"))

    def read_until(self, fragment: str) -> list[str]:
        """Read stdout until a line contains ``fragment``; every line read so far."""
        deadline = time.monotonic() + _TIMEOUT
        while not any(fragment in line for line in self.lines):
            try:
                line = self._queue.get(timeout=max(deadline - time.monotonic(), 0))
            except queue.Empty:
                raise AssertionError(f"no line with {fragment!r} in {self.lines}") from None
            self.lines.append(line)
        return self.lines

    def environment(self) -> dict[str, str]:
        exports = [line.split("export ", 1)[1] for line in self.lines if "export " in line]
        return dict(line.split("=", 1) for line in exports)


@pytest.fixture(params=["aiusage", "module"])
def server(request: pytest.FixtureRequest) -> Iterator[Running]:
    if request.param == "aiusage":
        command = [_AIUSAGE, "fake-server", "--port", "0"]
    else:
        command = [sys.executable, "-m", "pytest_aiusage.fake_openai", "--port", "0"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
    )
    running = Running(process)
    try:
        yield running
    finally:
        running.close()


def test_the_server_prints_its_environment_answers_the_sdk_and_stops_on_ctrl_c(
    server: Running,
) -> None:
    lines = server.read_until(f"export OPENAI_API_KEY={DUMMY_API_KEY}")
    env = server.environment()
    assert env["OPENAI_BASE_URL"].startswith("http://127.0.0.1:")
    assert env["OPENAI_BASE_URL"].endswith("/v1")
    assert lines[0] == (
        f"FakeOpenAI is serving the OpenAI API at {env['OPENAI_BASE_URL']} (Ctrl-C to stop)"
    )

    with openai.OpenAI(
        api_key=env["OPENAI_API_KEY"], base_url=env["OPENAI_BASE_URL"], max_retries=0
    ) as client:
        completion = client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "Hello, world!"}]
        )
        with pytest.raises(openai.NotFoundError) as missing:
            client.chat.completions.create(
                model="gpt-4o-mnii", messages=[{"role": "user", "content": "Hello"}]
            )
    assert completion.model == "gpt-4o-mini-2024-07-18"
    assert completion.choices[0].message.content == "Echo: Hello, world!"
    assert completion.usage is not None
    assert completion.usage.total_tokens == 16
    assert missing.value.code == "model_not_found"
    logged = server.read_until("-> 404")
    assert logged[-2].endswith("POST /v1/chat/completions -> 200 (model=gpt-4o-mini)")
    assert logged[-1].endswith("POST /v1/chat/completions -> 404 (model=gpt-4o-mnii)")

    server.process.send_signal(signal.SIGINT)
    assert server.process.wait(_TIMEOUT) == 0
    assert server.read_until("stopped")[-1] == "FakeOpenAI stopped."


def test_a_busy_port_is_one_line_and_status_2(server: Running) -> None:
    server.read_until("export OPENAI_BASE_URL=")
    port = server.environment()["OPENAI_BASE_URL"].rsplit(":", 1)[1].split("/")[0]
    second = subprocess.run(
        [_AIUSAGE, "fake-server", "--port", port], capture_output=True, text=True, timeout=_TIMEOUT
    )
    assert second.returncode == 2
    assert second.stdout == ""
    assert second.stderr == (
        f"aiusage fake-server: error: cannot listen on 127.0.0.1:{port}: Address already in use\n"
    )
