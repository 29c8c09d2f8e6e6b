"""docs/getting-started.md walks a new project from its first test to a committed cassette
that replays offline at the same cost: this runs the walk as the page writes it.

In a new git repository, each ``python`` block whose first line is ``# PATH`` is written to
PATH, and each ``console`` block's ``$ COMMAND`` runs (in bash, with no OpenAI key or base URL
in the environment) and must succeed and print the lines the page shows after it, in order.
A ``...`` line stands for lines left out; the fake server's port and pytest's timings may
differ, and pytest's ``=`` rules are compared without their padding. Blocks after
``<!-- docs-test: skip -->`` that are not files are not run.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "getting-started.md"
SECTION = "## Your first test: record a cassette, replay it offline"
BLOCK = re.compile(r"(<!-- docs-test: skip -->\s*)?```(python|console)\n(.*?)```", re.S)


def _section() -> str:
    text = PAGE.read_text()
    start = text.index(SECTION)
    end = text.find("\n## ", start + len(SECTION))
    return text[start : end if end != -1 else len(text)]


def _steps() -> list[tuple[str, str, list[str]]]:
    """``("file", path, [code])`` and ``("run", command, expected lines)``, in page order."""
    steps: list[tuple[str, str, list[str]]] = []
    for match in BLOCK.finditer(_section()):
        skipped, kind, body = match.groups()
        if kind == "python":
            first, _, code = body.partition("\n")
            if first.startswith("# "):
                steps.append(("file", first[2:].strip(), [code]))
            continue
        if skipped:
            continue
        for chunk in re.split(r"^\$ ", body, flags=re.M)[1:]:
            command, *output = chunk.rstrip("\n").split("\n")
            steps.append(("run", command, output))
    return steps


def _normal(line: str) -> str:
    line = re.sub(r"127\.0\.0\.1:\d+", "127.0.0.1:PORT", line)
    line = re.sub(r"\bin \d+\.\d+s\b", "in N.NNs", line)
    return " ".join(line.strip().strip("=").split())


def _environment() -> dict[str, str]:
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("OPENAI_", "ANTHROPIC_", "PYTEST_", "AIUSAGE_", "GIT_"))
    }
    bin_dir = str(Path(sys.executable).parent)  # pytest and aiusage of this environment
    env.update(
        PATH=bin_dir + os.pathsep + env.get("PATH", ""),
        COLUMNS="80",
        GIT_AUTHOR_NAME="A User",
        GIT_AUTHOR_EMAIL="user@example.com",
        GIT_COMMITTER_NAME="A User",
        GIT_COMMITTER_EMAIL="user@example.com",
    )
    return env


def test_the_page_walks_from_a_new_test_to_an_offline_replay() -> None:
    commands = [step[1] for step in _steps() if step[0] == "run"]
    assert commands == [
        "pytest --aiusage-record",
        "ls tests/cassettes/test_summary",
        'grep "uri:" tests/cassettes/test_summary/test_summarise.yaml',
        'git add tests && git commit -q -m "Summarise receipts, with the test\'s cassette"',
        "pytest --block-network",
    ]


def test_the_walk_works_as_written(tmp_path: Path) -> None:
    env = _environment()
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, env=env, check=True, timeout=60)
    costs = []
    for kind, what, lines in _steps():
        if kind == "file":
            (tmp_path / what).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / what).write_text(lines[0])
            continue
        done = subprocess.run(
            ["bash", "-c", what],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        shown = done.stdout + done.stderr
        assert done.returncode == 0, f"$ {what}\n{shown}"
        actual = [_normal(line) for line in shown.splitlines()]
        position = 0
        for expected in lines:
            if expected.strip() in ("", "..."):
                continue
            wanted = _normal(expected)
            while position < len(actual) and actual[position] != wanted:
                position += 1
            assert position < len(actual), f"$ {what}: no line {expected!r} (in order) in\n{shown}"
            position += 1
        costs += [line for line in actual if line.startswith("total:")]
    # Recorded and replayed: the same calls, tokens and cost.
    assert len(costs) == 2
    assert costs[0] == costs[1]
    assert (
        subprocess.run(
            ["git", "status", "--porcelain", "tests"],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        ).stdout
        == ""
    )
