"""Record the example suite's cassettes again, with the plugin's one recording command.

``python record_cassettes.py`` runs, in this folder::

    python -m pytest --aiusage-record --record-mode=rewrite

which is all a suite of your own needs too: ``--aiusage-record`` records the run's cassettes
(``rewrite``: every one again; without ``--record-mode``: only the missing ones). With no
``OPENAI_API_KEY`` set it starts a fresh local fake OpenAI server for the run and points the
client fixtures, and the clients the application makes itself, at it: offline, no key, no
cost, and the same cassettes on every machine. With a key set, it records from the live API.
Either way the cassettes are scrubbed of keys on write. Extra arguments go to pytest
(``python record_cassettes.py tests/test_labeler.py``).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
COMMAND = [sys.executable, "-m", "pytest", "--aiusage-record", "--record-mode=rewrite"]


def main() -> int:
    return subprocess.call([*COMMAND, *sys.argv[1:]], cwd=HERE)


if __name__ == "__main__":
    raise SystemExit(main())
