"""``--aiusage-cassette-report``: interactions nobody played, tests whose cassette is missing."""

from __future__ import annotations

import pytest

SUITE = """
import os

import pytest

REPLAY = os.environ["PHASE"] == "replay"


def ask(client, text):
    messages = [{"role": "user", "content": text}]
    client.chat.completions.create(model="gpt-4o-mini", messages=messages)


@pytest.mark.vcr
@pytest.mark.fake_openai
def test_own_cassette(openai_client):
    ask(openai_client, "first")
    if not REPLAY:
        openai_client.embeddings.create(model="text-embedding-3-small", input="only when recording")


@pytest.mark.vcr
@pytest.mark.fake_openai
@pytest.mark.default_cassette("shared")
def test_writes_shared(openai_client):
    ask(openai_client, "alpha")
    if not REPLAY:
        ask(openai_client, "beta")


@pytest.mark.vcr("shared.yaml")
@pytest.mark.fake_openai
def test_reads_shared(openai_client):
    if REPLAY:
        ask(openai_client, "alpha")


@pytest.mark.vcr
def test_forgot_to_record():
    pass
"""


def test_the_report_lists_unplayed_interactions_and_missing_cassettes(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makepyfile(test_report=SUITE)
    monkeypatch.setenv("PHASE", "record")
    pytester.runpytest("--record-mode=once").assert_outcomes(passed=4)

    monkeypatch.setenv("PHASE", "replay")
    result = pytester.runpytest("--record-mode=none", "--aiusage-cassette-report")
    result.assert_outcomes(passed=4)
    result.stdout.fnmatch_lines(
        [
            "*= OpenAI cassettes =*",
            "2 cassette files loaded, 4 recorded interactions, 2 never played:",
            "  cassettes/test_report/shared.yaml, interaction 2 of 2: "
            'POST /v1/chat/completions (model=gpt-4o-mini, "beta")',
            "  cassettes/test_report/test_own_cassette.yaml, interaction 2 of 2: "
            'POST /v1/embeddings (model=text-embedding-3-small, "only when recording")',
            "tests whose cassette is missing (1):",
            "  test_report.py::test_forgot_to_record: "
            "cassettes/test_report/test_forgot_to_record.yaml",
        ]
    )

    # Without the option there is no such section.
    quiet = pytester.runpytest("--record-mode=none")
    quiet.assert_outcomes(passed=4)
    assert "OpenAI cassettes" not in quiet.stdout.str()
