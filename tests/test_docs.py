"""The Python code blocks of the docs and the README run as written.

Each page's blocks run in order in one namespace, in a fresh working directory, with
``OPENAI_BASE_URL`` pointing at the local fake OpenAI server and a dummy key, so examples
that build ``OpenAI()`` talk to it. Blocks that are pytest test modules (they define a
``test_`` function) run as a test suite, in a pytester subprocess with the plugin active,
and must pass. A block right after ``<!-- docs-test: skip -->`` is not run (fragments that
need a real key, or a cassette recorded with one).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_aiusage.fake_openai import FakeOpenAI

ROOT = Path(__file__).resolve().parent.parent
PAGES = sorted([*(ROOT / "docs").glob("*.md"), ROOT / "README.md"])
BLOCK = re.compile(r"(<!-- docs-test: skip -->\s*)?```python\n(.*?)```", re.S)


def blocks(page: Path, *, tests: bool = False) -> list[tuple[int, str]]:
    """The page's runnable blocks: plain code, or (``tests=True``) pytest test modules."""
    text = page.read_text()
    return [
        (text.count("\n", 0, m.start()) + 1, m.group(2))
        for m in BLOCK.finditer(text)
        if not m.group(1)
        and (re.search(r"^\s*(async )?def test_", m.group(2), re.M) is not None) == tests
    ]


@pytest.fixture(scope="module")
def server() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as fake:
        yield fake


def test_every_page_is_in_the_mkdocs_nav() -> None:
    nav = (ROOT / "mkdocs.yml").read_text()
    missing = [p.name for p in PAGES if p.parent.name == "docs" and p.name not in nav]
    assert missing == []


@pytest.mark.parametrize("page", [p for p in PAGES if blocks(p)], ids=lambda p: p.name)
def test_code_blocks_run(
    page: Path,
    server: FakeOpenAI,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    found = blocks(page)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OPENAI_BASE_URL", server.url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-docs-test")
    monkeypatch.delenv("AIUSAGE_LEDGER", raising=False)
    namespace: dict[str, object] = {"__name__": f"docs_{page.stem.replace('-', '_')}"}
    for line, code in found:
        try:
            exec(compile(code, f"{page.name}:{line}", "exec"), namespace)
        except Exception as exc:
            pytest.fail(f"{page.name}, block at line {line}: {type(exc).__name__}: {exc}")


@pytest.mark.parametrize("page", [p for p in PAGES if blocks(p, tests=True)], ids=lambda p: p.name)
def test_test_module_blocks_pass_under_the_plugin(
    page: Path, server: FakeOpenAI, pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    found = blocks(page, tests=True)
    monkeypatch.setenv("OPENAI_BASE_URL", server.url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-docs-test")
    monkeypatch.delenv("AIUSAGE_LEDGER", raising=False)
    for line, code in found:
        pytester.makepyfile(**{f"test_{page.stem.replace('-', '_')}_line{line}": code})
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    outcomes = result.parseoutcomes()
    assert result.ret == 0, result.stdout.str()
    assert outcomes.get("passed", 0) + outcomes.get("xfailed", 0) >= len(found)
