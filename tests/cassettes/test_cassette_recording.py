"""``pytest --aiusage-record``: a user's own suite recorded in one command, then replayed
offline, as the getting-started guide walks through it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from cassette_testing import SECRET, cassette_files, files_containing

from pytest_aiusage._cassettes._fixtures import DUMMY_API_KEY
from pytest_aiusage.fake_openai import FakeOpenAI

# A new application and its first test: one client from the plugin's fixture, one made by the
# application itself with no arguments (it reads OPENAI_API_KEY / OPENAI_BASE_URL).
USER_SUITE = """
import pytest
from openai import OpenAI

from aiusage_core import wrap_openai


def summarise(client, text):
    reply = client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": f"Summarise: {text}"}]
    )
    return reply.choices[0].message.content


@pytest.mark.vcr
@pytest.mark.ai_budget(usd=0.001)
def test_summarise(openai_client, ai_usage):
    assert summarise(openai_client, "ACME 12.50, Globex 3.99") == (
        "Echo: Summarise: ACME 12.50, Globex 3.99"
    )
    ai_usage.assert_calls(1, model="gpt-4o-mini")


@pytest.mark.vcr
def test_the_application_makes_its_own_client(ai_usage):
    client = wrap_openai(OpenAI(max_retries=0))
    summarise(client, "one receipt")
    client.embeddings.create(model="text-embedding-3-small", input="ACME")
    client.close()
    ai_usage.assert_calls(2)
"""


def _report(path: Path) -> dict[str, object]:
    document = json.loads(path.read_text())
    return {test["nodeid"]: test for test in document["tests"]}


def test_one_command_records_a_new_suite_from_a_fresh_fake_server_and_it_replays_offline(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makepyfile(test_summary=USER_SUITE)

    recorded = pytester.runpytest_subprocess("--aiusage-record", "--aiusage-json=record.json")
    recorded.assert_outcomes(passed=2)
    recorded.stdout.fnmatch_lines(
        [
            "aiusage: recording cassettes (record mode 'once') from the fake OpenAI server "
            "at http://127.0.0.1:*/v1"
        ]
    )
    cassettes = cassette_files(pytester.path)
    assert [str(p.relative_to(pytester.path)) for p in cassettes] == [
        "cassettes/test_summary/test_summarise.yaml",
        "cassettes/test_summary/test_the_application_makes_its_own_client.yaml",
    ]
    first = yaml.safe_load(cassettes[0].read_text())["interactions"]
    # Written as sent to the real API: no port of a fake server in them, so they replay
    # under any matching and are the same however often they are recorded.
    assert [i["request"]["uri"] for i in first] == ["https://api.openai.com/v1/chat/completions"]
    assert first[0]["request"]["headers"]["host"] == ["api.openai.com"]
    assert files_containing(pytester.path / "cassettes", DUMMY_API_KEY) == []

    # Replay as CI does: no fake server, the network blocked, no real key. The plugin's
    # fixture needs none; a client the application makes itself needs the variable set (the
    # SDK refuses to start without one), to any value.
    monkeypatch.setenv("OPENAI_API_KEY", "not-a-key")
    replayed = pytester.runpytest_subprocess(
        "--record-mode=none", "--block-network", "--aiusage-json=replay.json"
    )
    replayed.assert_outcomes(passed=2)
    assert "recording cassettes" not in replayed.stdout.str()
    live, offline = _report(pytester.path / "record.json"), _report(pytester.path / "replay.json")
    assert offline == live
    assert offline["test_summary.py::test_summarise"]["cost_usd"] == "0.00001035"
    assert offline["test_summary.py::test_the_application_makes_its_own_client"]["calls"] == 2

    # Recording again keeps what exists (record mode once), unless asked to rewrite.
    monkeypatch.delenv("OPENAI_API_KEY")
    before = [p.read_bytes() for p in cassettes]
    again = pytester.runpytest_subprocess("--aiusage-record", "--record-mode=rewrite")
    again.assert_outcomes(passed=2)
    again.stdout.fnmatch_lines(["aiusage: recording cassettes (record mode 'rewrite') from *"])
    assert [p.read_bytes() for p in cassettes] == before  # the fake server is deterministic


def test_with_a_key_set_the_command_records_from_the_api_the_key_points_at(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makepyfile(test_summary=USER_SUITE)
    # The "live API" here is a fake server the environment points at, as a proxy would be.
    with FakeOpenAI() as api:
        monkeypatch.setenv("OPENAI_API_KEY", SECRET)
        monkeypatch.setenv("OPENAI_BASE_URL", api.url)
        result = pytester.runpytest_subprocess("--aiusage-record")
        received = api.requests
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(
        [
            "aiusage: recording cassettes (record mode 'once') from the live OpenAI API "
            "(OPENAI_API_KEY is set)"
        ]
    )
    assert [r.headers["authorization"] for r in received] == [f"Bearer {SECRET}"] * 3
    assert len(cassette_files(pytester.path)) == 2
    assert files_containing(pytester.path / "cassettes", SECRET) == []


def test_recording_under_xdist_uses_the_controllers_server(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_summary=USER_SUITE)
    result = pytester.runpytest_subprocess("-n", "2", "--aiusage-record")
    result.assert_outcomes(passed=2)
    assert len(cassette_files(pytester.path)) == 2


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--aiusage-record", "--record-mode=none"],
            "ERROR: --aiusage-record records: it cannot run --record-mode=none",
        ),
        (
            ["--aiusage-record", "-p", "no:recording"],
            "ERROR: --aiusage-record records cassettes with pytest-recording, which is not "
            'active: pip install "pytest-aiusage[cassettes]" (and do not pass -p no:recording)',
        ),
    ],
)
def test_a_recording_that_cannot_record_is_a_usage_error(
    pytester: pytest.Pytester, args: list[str], message: str
) -> None:
    pytester.makepyfile(test_summary=USER_SUITE)
    result = pytester.runpytest_subprocess(*args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert message in result.stderr.str()


ANTHROPIC_SUITE = """
import anthropic
import pytest


@pytest.mark.vcr
def test_claude(ai_usage):
    client = anthropic.Anthropic(max_retries=0)  # ANTHROPIC_BASE_URL / _API_KEY from the run
    hello = [{"role": "user", "content": "Hi"}]
    client.messages.create(model="claude-haiku-4-5", max_tokens=16, messages=hello)
    client.close()
"""


def test_anthropic_requests_are_recorded_as_sent_to_anthropics_api(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makepyfile(test_claude=ANTHROPIC_SUITE)
    pytester.runpytest_subprocess("--aiusage-record").assert_outcomes(passed=1)
    (cassette,) = cassette_files(pytester.path)
    (interaction,) = yaml.safe_load(cassette.read_text())["interactions"]
    assert interaction["request"]["uri"] == "https://api.anthropic.com/v1/messages"
    assert interaction["request"]["headers"]["host"] == ["api.anthropic.com"]
    # Replayed under vcrpy's default matching (host included), against Anthropic's API; the
    # application's client needs some key to start.
    monkeypatch.setenv("ANTHROPIC_API_KEY", DUMMY_API_KEY)
    pytester.runpytest_subprocess("--record-mode=none").assert_outcomes(passed=1)
