"""Record the example suite's cassettes again, against the local fake server.

With real keys you would run ``OPENAI_API_KEY=sk-... ANTHROPIC_API_KEY=sk-ant-... pytest
--record-mode=rewrite``. This script does the same against
:class:`pytest_aiusage.fake_openai.FakeOpenAI`, which speaks both OpenAI's and Anthropic's
wire formats, so the demo's cassettes can be made on any machine, offline, with no key.
Pass test paths to record only those (``python record_cassettes.py tests/test_totals.py``).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from pytest_aiusage.fake_openai import FakeOpenAI

HERE = Path(__file__).resolve().parent


def main() -> int:
    with FakeOpenAI() as server:
        env = {
            **os.environ,
            "OPENAI_BASE_URL": server.url,
            # A fake key: the cassettes are scrubbed of it (and of any real one) on write.
            "OPENAI_API_KEY": "sk-demo-recording-key-000000000000",
            "ANTHROPIC_BASE_URL": server.anthropic_url,
            "ANTHROPIC_API_KEY": "sk-ant-demo-recording-key-000000000000",
        }
        return subprocess.call(
            [sys.executable, "-m", "pytest", "--record-mode=rewrite", *sys.argv[1:]],
            cwd=HERE,
            env=env,
        )


if __name__ == "__main__":
    raise SystemExit(main())
