"""Record the example suite's cassettes again: one pytest command, no script logic.

This is ``pytest --aiusage-record --record-mode=rewrite`` run in this folder. With no key in
the environment, ``--aiusage-record`` starts a fresh loopback fake server (it speaks both
OpenAI's and Anthropic's wire formats) for the run and points the clients at it, so the
demo's cassettes can be made on any machine, offline, with no key; the requests are written
as they would be sent to the real APIs, so they replay anywhere. With real keys in the
environment the same command records from the live APIs. Pass test paths to record only
those (``python record_cassettes.py tests/test_totals.py``).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    command = [sys.executable, "-m", "pytest", "--aiusage-record", "--record-mode=rewrite"]
    return subprocess.call([*command, *sys.argv[1:]], cwd=HERE)


if __name__ == "__main__":
    raise SystemExit(main())
