"""Constants and helpers of the cassette tests (imported by the test modules)."""

from __future__ import annotations

from pathlib import Path

# Inner runs leave out the cache and unrelated plugins (but keep pytest-recording), and turn
# warnings into errors like our own configuration does.
INNER_INI = """[pytest]
addopts = -p no:cacheprovider -p no:benchmark -p no:hypothesispytest -p no:pytest_httpserver
    -p no:anyio
filterwarnings = error
"""

SECRET = "sk-test-SECRET1234567890abcdef"
"""A key-shaped secret, sent in every header and the URL by the inner suites."""


def files_containing(root: Path, *needles: str) -> list[str]:
    """Every file under ``root`` (as ``path: needle``) whose bytes contain one of ``needles``."""
    found = []
    for path in sorted(root.rglob("*")):
        if path.is_file():
            data = path.read_bytes()
            found.extend(f"{path}: {n}" for n in needles if n.encode() in data)
    return found


def cassette_files(root: Path) -> list[Path]:
    """The cassette files under ``root``."""
    return sorted(p for p in root.rglob("cassettes/**/*") if p.is_file())
