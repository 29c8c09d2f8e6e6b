"""Cassettes are provider-neutral: Anthropic's secrets are scrubbed as surely as OpenAI's,
and replay failures and the cassette report name the provider a request went to.

Inner suites drive the real ``anthropic`` SDK against the fake server's Anthropic side
(``FakeOpenAI.anthropic_url``) through pytest-recording and vcrpy.
"""

from __future__ import annotations

import pytest
import yaml
from cassette_testing import SECRET, cassette_files, files_containing
from vcr.request import Request

from pytest_aiusage._cassettes._providers import provider_of, title
from pytest_aiusage._cassettes._scrub import REDACTED, Scrubber, is_secret_name
from pytest_aiusage._cassettes._state import CassetteState
from pytest_aiusage.fake_openai import FakeOpenAI

# A gateway key is not shaped like a provider's key: only knowing it finds it.
CONFIGURED_KEY = "gateway-7f3a9c2e1b5d4a60"
ORGANIZATION = "org-id-5e8b1c3a9d7f"

SUITE = """
import asyncio
import os

import anthropic
import pytest

pytestmark = pytest.mark.vcr

KEY = os.environ["ANTHROPIC_API_KEY"]
OLD_KEY = os.environ["AIUSAGE_TEST_SECRET"]
HEADERS = {"x-api-key": OLD_KEY, "x-trace": f"trace {KEY}"}
HELLO = [{"role": "user", "content": "Hello, world!"}]


def client():
    # ANTHROPIC_API_KEY and ANTHROPIC_BASE_URL from the environment, as the SDK reads them;
    # SDK 2.x sends the key as ``Authorization: Bearer``, older clients as ``x-api-key``.
    return anthropic.Anthropic(max_retries=0, default_headers=HEADERS)


def test_message():
    message = client().messages.create(model="claude-haiku-4-5", max_tokens=64, messages=HELLO)
    assert message.content[0].text == "Echo: Hello, world!"


def test_stream():
    events = client().messages.create(
        model="claude-haiku-4-5", max_tokens=64, messages=HELLO, stream=True
    )
    text = "".join(e.delta.text for e in events if e.type == "content_block_delta")
    assert text == "Echo: Hello, world!"


def test_key_in_the_prompt():
    said = [{"role": "user", "content": f"My key: {KEY} and {OLD_KEY}"}]
    message = client().messages.create(model="claude-haiku-4-5", max_tokens=64, messages=said)
    assert message.usage.input_tokens > 10


def test_async():
    async def ask():
        async_client = anthropic.AsyncAnthropic(max_retries=0, default_headers=HEADERS)
        message = await async_client.messages.create(
            model="claude-haiku-4-5", max_tokens=64, messages=HELLO
        )
        await async_client.close()
        return message.content[0].text

    assert asyncio.run(ask()) == "Echo: Hello, world!"
"""


def test_an_anthropic_suite_records_without_a_secret_on_disk_and_replays_offline(
    pytester: pytest.Pytester, server: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", CONFIGURED_KEY)
    monkeypatch.setenv("ANTHROPIC_BASE_URL", server.anthropic_url)
    monkeypatch.setenv("AIUSAGE_TEST_SECRET", SECRET)
    pytester.makepyfile(test_claude=SUITE)
    for _ in range(4):
        server.reply(headers={"anthropic-organization-id": ORGANIZATION})

    recorded = pytester.runpytest("--record-mode=once")
    recorded.assert_outcomes(passed=4)
    sent = server.requests[0]
    assert sent.headers["authorization"] == f"Bearer {CONFIGURED_KEY}"
    assert sent.headers["x-api-key"] == SECRET
    server.stop()  # from here on, a request that is not replayed fails to connect

    assert [p.name for p in cassette_files(pytester.path)] == [
        "test_async.yaml",
        "test_key_in_the_prompt.yaml",
        "test_message.yaml",
        "test_stream.yaml",
    ]
    assert files_containing(pytester.path / "cassettes", CONFIGURED_KEY, SECRET, ORGANIZATION) == []
    message = yaml.safe_load(
        (pytester.path / "cassettes/test_claude/test_message.yaml").read_text()
    )
    (interaction,) = message["interactions"]
    request, response = interaction["request"], interaction["response"]
    assert request["headers"]["authorization"] == [REDACTED]
    assert request["headers"]["x-api-key"] == [REDACTED]
    assert request["headers"]["x-trace"] == [f"trace {REDACTED}"]
    assert response["headers"]["anthropic-organization-id"] == [REDACTED]
    assert response["headers"]["request-id"] != [REDACTED]  # not a secret: kept

    replayed = pytester.runpytest("--record-mode=none")
    replayed.assert_outcomes(passed=4)


MISSING = """
import os

import anthropic
import openai
import pytest


@pytest.mark.vcr
def test_claude():
    client = anthropic.Anthropic(max_retries=0)
    said = [{"role": "user", "content": f"Hi {os.environ['ANTHROPIC_API_KEY']}"}]
    client.messages.create(model="claude-haiku-4-5", max_tokens=64, messages=said)


@pytest.mark.vcr
def test_elsewhere():
    client = openai.OpenAI(api_key="dummy", base_url="https://llm.example.com/api", max_retries=0)
    client.models.list()
"""


def test_a_missing_anthropic_cassette_names_anthropic_and_its_key(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", CONFIGURED_KEY)
    pytester.makepyfile(test_missing=MISSING)
    result = pytester.runpytest("--record-mode=none")
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(
        [
            "*_ test_claude _*",
            "No Anthropic cassette for this test: the cassette does not exist "
            "(record mode 'none').",
            "  cassette: cassettes/test_missing/test_claude.yaml",
            '  request:  POST /v1/messages (model=claude-haiku-4-5, "Hi <REDACTED>")',
            "  record it: ANTHROPIC_API_KEY=sk-ant-... pytest --record-mode=once "
            "test_missing.py::test_claude",
            "*_ test_elsewhere _*",
            # No provider it knows: no provider's name, and no key it could name.
            "No cassette for this test: the cassette does not exist (record mode 'none').",
            "  cassette: cassettes/test_missing/test_elsewhere.yaml",
            "  request:  GET /api/models",
            "  record it: pytest --record-mode=once test_missing.py::test_elsewhere",
        ]
    )
    assert "OPENAI_API_KEY" not in result.stdout.str()
    assert CONFIGURED_KEY not in result.stdout.str()  # the message goes to CI logs


BOTH = """
import anthropic
import openai
import pytest

HELLO = [{"role": "user", "content": "Hello"}]


@pytest.mark.vcr
@pytest.mark.fake_openai
def test_gpt(openai_client, fake_openai):
    openai_client.chat.completions.create(model="gpt-4o-mini", messages=HELLO)


@pytest.mark.vcr
def test_claude(fake_openai):
    client = anthropic.Anthropic(api_key="sk-ant-dummy", base_url=fake_openai.anthropic_url)
    client.messages.create(model="claude-haiku-4-5", max_tokens=64, messages=HELLO)
"""


def test_the_cassette_report_names_every_provider_its_cassettes_hold(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(test_both=BOTH)
    pytester.runpytest("--record-mode=once").assert_outcomes(passed=2)
    # The fake server's port changes from run to run: replay matches on the path alone.
    pytester.makeconftest(
        "import pytest\n\n@pytest.fixture\ndef vcr_config():\n"
        "    return {'match_on': ['method', 'openai_path', 'openai_body']}\n"
    )
    result = pytester.runpytest("--record-mode=none", "--aiusage-cassette-report")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(
        [
            "*= OpenAI and Anthropic cassettes =*",
            "2 cassette files loaded, 2 recorded interactions: every interaction played, "
            "no cassette missing",
        ]
    )


@pytest.mark.parametrize(
    ("uri", "provider"),
    [
        ("https://api.anthropic.com/v1/messages", "Anthropic"),
        ("https://api.anthropic.com/v1/messages/batches/msgbatch_1/results", "Anthropic"),
        ("https://api.anthropic.com/v1/models", "Anthropic"),  # its host says so
        ("http://127.0.0.1:5000/v1/messages?beta=true", "Anthropic"),
        ("https://gateway.example.com/anthropic/v1/messages/count_tokens", "Anthropic"),
        ("https://api.openai.com/v1/models", "OpenAI"),
        ("https://acme.openai.azure.com/openai/deployments/x/chat/completions", "OpenAI"),
        ("http://127.0.0.1:5000/v1/responses", "OpenAI"),
        ("https://llm.example.com/api/models", None),
    ],
)
def test_a_request_names_its_provider_by_host_then_path(uri: str, provider: str | None) -> None:
    found = provider_of(Request("POST", uri, None, {}))
    assert (found.name if found else None) == provider


def test_a_title_lists_the_providers_seen() -> None:
    assert title({"Anthropic"}) == "Anthropic cassettes"
    assert title({"Anthropic", "OpenAI"}) == "OpenAI and Anthropic cassettes"
    assert title(set()) == "AI cassettes"


def test_anthropics_secret_headers_are_secret() -> None:
    for name in ("x-api-key", "Authorization", "anthropic-organization-id"):
        assert is_secret_name(name), name
    for name in (
        "anthropic-version",
        "anthropic-beta",
        "request-id",
        "anthropic-ratelimit-tokens-limit",
    ):
        assert not is_secret_name(name), name


def test_the_configured_anthropic_keys_are_scrubbed_wherever_they_appear(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", CONFIGURED_KEY)
    monkeypatch.setenv("ANTHROPIC_AUTH_TOKEN", "bearer-token-9a8b7c6d")
    scrubber = Scrubber(CassetteState().secrets())
    # In no secret field at all: only the configured values tell.
    request = Request(
        "POST",
        f"https://api.anthropic.com/v1/messages?trace={CONFIGURED_KEY}",
        b'{"note": "bearer-token-9a8b7c6d"}',
        {"x-trace": CONFIGURED_KEY},
    )
    scrubbed = scrubber.request(request)
    assert scrubbed.uri == "https://api.anthropic.com/v1/messages?trace=<REDACTED>"
    assert scrubbed.headers["x-trace"] == REDACTED
    assert scrubbed.body == b'{"note": "<REDACTED>"}'
    assert scrubber.text("sk-ant-api03-AbCdEfGhIjKlMnOpQrStUv-xyz") == REDACTED
