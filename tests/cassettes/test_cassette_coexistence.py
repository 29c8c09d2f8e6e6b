"""Installing the plugin changes nothing for a pytest-recording suite but keeping secrets off
disk: its matching and its vcrpy configuration stay as it gave them."""

from __future__ import annotations

import json

import pytest
from cassette_testing import cassette_files, files_containing

from pytest_aiusage.fake_openai import FakeOpenAI

# A suite of the kind pytest-recording users have: its own OpenAI client, a cassette, and a
# prompt that changes between recording and replay (vcrpy's default matching ignores bodies).
PLAIN_SUITE = """
import os

import openai
import pytest


@pytest.mark.vcr{marker}
def test_ask():
    client = openai.OpenAI(api_key="plain-suite-key-0123456789",
                           base_url=os.environ["SERVER_URL"], max_retries=0)
    completion = client.chat.completions.create(
        model="gpt-4o-mini", messages=[{{"role": "user", "content": os.environ["PROMPT"]}}]
    )
    assert completion.choices[0].message.content == "Echo: recorded"
"""


def _record_then_replay_another_prompt(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, server: FakeOpenAI
) -> pytest.RunResult:
    monkeypatch.setenv("SERVER_URL", server.url)
    monkeypatch.setenv("PROMPT", "recorded")
    pytester.runpytest("--record-mode=once").assert_outcomes(passed=1)
    assert len(server.requests) == 1
    monkeypatch.setenv("PROMPT", "changed since")
    result = pytester.runpytest("--record-mode=none")
    assert len(server.requests) == 1  # replayed or refused: nothing was sent again
    return result


def test_a_pytest_recording_suite_keeps_vcrpys_default_matching(
    pytester: pytest.Pytester, server: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makepyfile(test_plain=PLAIN_SUITE.format(marker=""))
    result = _record_then_replay_another_prompt(pytester, monkeypatch, server)
    result.assert_outcomes(passed=1)
    result.stdout.no_fnmatch_line("*No recorded OpenAI request matches*")
    # ... and the cassette was still scrubbed on its way to disk.
    assert files_containing(pytester.path / "cassettes", "plain-suite-key-0123456789") == []


@pytest.mark.parametrize(
    ("marker", "ini"),
    [
        pytest.param("\n@pytest.mark.openai_cassette", "", id="marker"),
        pytest.param("", "aiusage_openai_matching = true", id="ini"),
    ],
)
def test_opting_in_matches_bodies_the_openai_way(
    pytester: pytest.Pytester,
    server: FakeOpenAI,
    monkeypatch: pytest.MonkeyPatch,
    marker: str,
    ini: str,
) -> None:
    if ini:
        pytester.makeini(pytester.path.joinpath("tox.ini").read_text() + f"\n{ini}\n")
    pytester.makepyfile(test_plain=PLAIN_SUITE.format(marker=marker))
    result = _record_then_replay_another_prompt(pytester, monkeypatch, server)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*No recorded OpenAI request matches this one*"])


def test_a_suites_own_match_on_wins_over_the_openai_matching_it_opted_into(
    pytester: pytest.Pytester, server: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makeconftest(
        """
import pytest


@pytest.fixture
def vcr_config():
    return {"match_on": ("method", "path")}
"""
    )
    pytester.makepyfile(test_plain=PLAIN_SUITE.format(marker="\n@pytest.mark.openai_cassette"))
    _record_then_replay_another_prompt(pytester, monkeypatch, server).assert_outcomes(passed=1)


HOOKED_SUITE = """
import json
import os
from pathlib import Path

import pytest

SEEN = Path(os.environ["SEEN_FILE"])


def remember(key, value):
    seen = json.loads(SEEN.read_text()) if SEEN.exists() else {}
    seen[key] = value
    SEEN.write_text(json.dumps(seen))


def my_request_hook(request):
    remember("authorization", request.headers.get("Authorization"))
    remember("uri", request.uri)
    return request


def my_response_hook(response):
    remember("content-encoding", response["headers"].get("content-encoding"))
    return response


@pytest.fixture
def vcr_config():
    return {"before_record_request": my_request_hook,
            "before_record_response": my_response_hook}


def pytest_recording_configure(config, vcr):
    remember("configured", {
        "match_on": list(vcr.match_on),
        "before_record_request": repr(vcr.before_record_request),
        "before_record_response": repr(vcr.before_record_response),
        "filter_headers": list(vcr.filter_headers),
        "filter_query_parameters": list(vcr.filter_query_parameters),
        "decode_compressed_response": vcr.decode_compressed_response,
    })
"""

HOOKED_TEST = """
import os

import openai
import pytest


@pytest.mark.vcr
def test_ask({fixture}):
    client = {client}.with_options(default_query={{"api-key": "query-key-0123456789"}})
    client.chat.completions.create(
        model="gpt-4o-mini", messages=[{{"role": "user", "content": "hi"}}]
    )
"""


@pytest.mark.parametrize(
    ("fixture", "client", "match_on"),
    [
        pytest.param(
            "",
            'openai.OpenAI(api_key=os.environ["OPENAI_API_KEY"], '
            'base_url=os.environ["OPENAI_BASE_URL"])',
            ["method", "scheme", "host", "port", "path", "query"],
            id="own-client",
        ),
        pytest.param(
            "openai_client",
            "openai_client",
            ["method", "openai_path", "openai_query", "openai_body"],
            id="plugin-fixture",
        ),
    ],
)
def test_the_users_hooks_see_requests_as_sent_and_the_vcr_keeps_their_configuration(
    pytester: pytest.Pytester,
    server: FakeOpenAI,
    monkeypatch: pytest.MonkeyPatch,
    fixture: str,
    client: str,
    match_on: list[str],
) -> None:
    key = "sk-hooked-0123456789abcdefghij"
    seen_file = pytester.path / "seen.json"
    monkeypatch.setenv("OPENAI_API_KEY", key)
    monkeypatch.setenv("OPENAI_BASE_URL", server.url)
    monkeypatch.setenv("SEEN_FILE", str(seen_file))
    pytester.makeconftest(HOOKED_SUITE)
    pytester.makepyfile(test_hooked=HOOKED_TEST.format(fixture=fixture, client=client))
    pytester.runpytest("--record-mode=once").assert_outcomes(passed=1)

    seen = json.loads(seen_file.read_text())
    # The user's hooks got the request and response as they went over the wire ...
    assert seen["authorization"] == f"Bearer {key}"
    assert seen["uri"].endswith("/v1/chat/completions?api-key=query-key-0123456789")
    assert seen["content-encoding"] == ["gzip"]
    # ... the VCR holds vcrpy's defaults (pytest-recording passes vcr_config to the cassette),
    # and only a test that opted in has our match_on ...
    assert seen["configured"] == {
        "match_on": match_on,
        "before_record_request": "None",
        "before_record_response": "None",
        "filter_headers": [],
        "filter_query_parameters": [],
        "decode_compressed_response": False,
    }
    # ... and no secret reached the disk, scrubbed after every hook had run.
    (cassette,) = cassette_files(pytester.path)
    assert files_containing(cassette.parent, key, "query-key-0123456789") == []
    assert '"prompt_tokens":7' in cassette.read_text()  # stored decoded
