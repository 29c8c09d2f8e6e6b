"""The Python examples of docs/cassettes.md run, and do what the page says."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest
from cassette_testing import cassette_files

from pytest_aiusage.fake_openai import FakeOpenAI

DOC = Path(__file__).parents[2] / "docs" / "cassettes.md"
BLOCKS = [
    textwrap.dedent(body)
    for _, body in re.findall(
        r"^( *)```python\n(.*?)^\1```", DOC.read_text(encoding="utf-8"), flags=re.S | re.M
    )
]


def _block(marker: str) -> str:
    (block,) = [b for b in BLOCKS if marker in b]
    return block


def test_the_page_has_its_examples() -> None:
    assert len(BLOCKS) == 4


def test_the_first_test_records_and_replays_without_a_key(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_first=_block("def test_summarise_receipt"))
    pytester.runpytest("--record-mode=once", "--strict-markers").assert_outcomes(passed=1)
    assert [p.name for p in cassette_files(pytester.path)] == ["test_summarise_receipt.yaml"]
    pytester.runpytest("--record-mode=none", "--strict-markers").assert_outcomes(passed=1)


def test_the_workflow_records_with_a_key_and_replays_without(
    pytester: pytest.Pytester, server: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makepyfile(test_labels=_block("def test_label_receipt"))
    # Step 1: without a cassette, replay fails and says how to record.
    missing = pytester.runpytest()
    missing.assert_outcomes(failed=1)
    missing.stdout.fnmatch_lines(
        ["  record it: OPENAI_API_KEY=sk-... pytest --record-mode=once test_labels.py::*"]
    )
    # Step 2: record (the fake server stands in for the real API).
    monkeypatch.setenv("OPENAI_API_KEY", "recording-key-0123456789")
    monkeypatch.setenv("OPENAI_BASE_URL", server.url)
    pytester.runpytest("--record-mode=once").assert_outcomes(passed=1)
    # Step 5: replay with no key.
    monkeypatch.delenv("OPENAI_API_KEY")
    monkeypatch.delenv("OPENAI_BASE_URL")
    server.stop()
    pytester.runpytest().assert_outcomes(passed=1)


CALLS_WITH_A_BETA_HEADER = """
import os

import pytest


@pytest.mark.vcr
@pytest.mark.fake_openai
def test_beta(openai_client):
    for _ in range(int(os.environ["CALLS"])):
        openai_client.embeddings.create(
            model="text-embedding-3-small", input="receipt",
            extra_headers={"OpenAI-Beta": os.environ["BETA"]},
        )
"""


def test_the_vcr_config_example_adds_a_matcher_and_playback_repeats(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makeconftest(_block("def vcr_config"))
    pytester.makepyfile(test_beta=CALLS_WITH_A_BETA_HEADER)
    monkeypatch.setenv("BETA", "assistants=v2")
    monkeypatch.setenv("CALLS", "1")
    pytester.runpytest("--record-mode=once").assert_outcomes(passed=1)
    (cassette,) = cassette_files(pytester.path)
    assert "assistants=v2" in cassette.read_text()

    monkeypatch.setenv("CALLS", "2")  # one recorded answer serves both
    pytester.runpytest("--record-mode=none").assert_outcomes(passed=1)
    monkeypatch.setenv("BETA", "assistants=v1")
    changed = pytester.runpytest("--record-mode=none")
    changed.assert_outcomes(failed=1)
    changed.stdout.fnmatch_lines(["    same_beta_header differs*"])


def test_the_fake_server_examples_pass(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_fake=_block("def test_summary_cost"))
    pytester.runpytest("--strict-markers").assert_outcomes(passed=2)
