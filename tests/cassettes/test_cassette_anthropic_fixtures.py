"""The ``anthropic_client`` fixtures and the ``fake_anthropic`` server, as a user's suite sees
them: they mirror the OpenAI ones, record cassettes with no secret on disk, and replay them
offline at the same cost (checked against genai-prices, computed in the inner tests)."""

from __future__ import annotations

import json

import pytest
import yaml
from cassette_testing import SECRET, cassette_files, files_containing

from pytest_aiusage.fake_openai import FakeOpenAI

PRICED = """
import genai_prices


def genai_cost(usage, model="claude-haiku-4-5"):
    # Anthropic's counts: input_tokens excludes the cache reads and writes beside it.
    read = usage.cache_read_input_tokens or 0
    written = usage.cache_creation_input_tokens or 0
    one_hour = usage.cache_creation.ephemeral_1h_input_tokens if usage.cache_creation else 0
    counts = genai_prices.Usage(
        input_tokens=usage.input_tokens + read + written,
        cache_read_tokens=read,
        cache_write_tokens=written,
        cache_write_1h_tokens=one_hour,
        output_tokens=usage.output_tokens,
    )
    return genai_prices.calc_price(counts, model, provider_id="anthropic").total_price
"""

FIXTURES = (
    PRICED
    + """
import asyncio

import anthropic
import pytest

HELLO = [{"role": "user", "content": "Summarise"}]
CACHED = {
    "input_tokens": 12,
    "cache_read_input_tokens": 2000,
    "cache_creation_input_tokens": 300,
    "cache_creation": {"ephemeral_5m_input_tokens": 100, "ephemeral_1h_input_tokens": 200},
    "output_tokens": 40,
}


@pytest.mark.fake_anthropic
def test_scripted_usage_is_what_the_test_costs(anthropic_client, fake_anthropic, ai_usage):
    fake_anthropic.reply(content="A receipt.", usage=CACHED)
    message = anthropic_client.messages.create(
        model="claude-haiku-4-5", max_tokens=64, messages=HELLO
    )
    assert message.content[0].text == "A receipt."
    assert fake_anthropic.requests[0].headers["authorization"] == "Bearer aiusage-dummy-key"
    assert ai_usage.totals.cost_usd == genai_cost(message.usage) > 0
    (record,) = ai_usage.records
    assert (record.provider, record.input_tokens, record.cached_input_tokens) == (
        "anthropic", 2312, 2000
    )
    fake_anthropic.reply(status=429)  # never consumed: must not reach the next test


@pytest.mark.fake_anthropic
def test_each_test_gets_a_reset_server(anthropic_client, fake_anthropic, ai_usage):
    assert (fake_anthropic.pending_replies, fake_anthropic.requests) == (0, [])
    with anthropic_client.messages.stream(
        model="claude-haiku-4-5", max_tokens=64, messages=HELLO
    ) as stream:
        final = stream.get_final_message()
    assert ai_usage.totals.cost_usd == genai_cost(final.usage)


@pytest.mark.fake_anthropic
def test_error_statuses_are_not_retried(anthropic_client, fake_anthropic, ai_usage):
    fake_anthropic.reply(status=429)
    with pytest.raises(anthropic.RateLimitError):
        anthropic_client.messages.create(model="claude-haiku-4-5", max_tokens=64, messages=HELLO)
    assert len(fake_anthropic.requests) == 1
    assert ai_usage.records[0].error.type == "RateLimitError"


@pytest.mark.fake_anthropic
def test_the_async_client_talks_to_the_fake_server(async_anthropic_client, ai_usage):
    async def ask():
        message = await async_anthropic_client.messages.create(
            model="claude-haiku-4-5", max_tokens=64, messages=HELLO
        )
        return message.content[0].text

    assert asyncio.run(ask()) == asyncio.run(ask()) == "Echo: Summarise"
    ai_usage.assert_calls(2)


@pytest.mark.fake_openai
@pytest.mark.fake_anthropic
def test_both_providers_in_one_test(openai_client, anthropic_client, ai_usage):
    openai_client.chat.completions.create(model="gpt-4o-mini", messages=HELLO)
    anthropic_client.messages.create(model="claude-haiku-4-5", max_tokens=64, messages=HELLO)
    assert sorted(r.provider for r in ai_usage.records) == ["anthropic", "openai"]


def test_without_cassette_or_key(anthropic_client):
    pass


@pytest.mark.vcr
def test_recording_without_key(async_anthropic_client):
    pass
"""
)


def test_the_fixtures_use_the_fake_server_and_refuse_to_call_the_real_api_without_a_key(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(test_fixtures=FIXTURES)
    result = pytester.runpytest("--record-mode=once")
    result.assert_outcomes(passed=5, errors=2)
    result.stdout.fnmatch_lines(
        [
            "*_ ERROR at setup of test_without_cassette_or_key _*",
            "anthropic_client: this test has no cassette (@pytest.mark.vcr) and no fake server "
            "(@pytest.mark.fake_anthropic), so it would call the real Anthropic API, which "
            "needs a key: set ANTHROPIC_API_KEY (and ANTHROPIC_BASE_URL for a proxy), or mark "
            "the test @pytest.mark.fake_anthropic to use the local fake server",
            "*_ ERROR at setup of test_recording_without_key _*",
            "async_anthropic_client: recording the cassette "
            "cassettes/test_fixtures/test_recording_without_key.yaml (record mode 'once') "
            "calls the real Anthropic API, which needs a key: set ANTHROPIC_API_KEY*",
        ]
    )


SUITE = (
    PRICED
    + """
import asyncio
import os

import pytest

pytestmark = pytest.mark.vcr

SECRET = os.environ["AIUSAGE_TEST_SECRET"]
# The key in every header a key could travel in (the SDK sends ANTHROPIC_API_KEY's value as
# ``Authorization: Bearer``).
HEADERS = {
    "x-api-key": SECRET,
    "anthropic-organization-id": SECRET,
    "proxy-authorization": f"Basic {SECRET}",
    "cookie": f"session={SECRET}",
    "x-gateway-token": SECRET,
}
HELLO = [{"role": "user", "content": "Hello, world!"}]


@pytest.fixture
def client(anthropic_client):
    return anthropic_client.with_options(default_headers=HEADERS)


def test_message(client, ai_usage):
    message = client.messages.create(model="claude-haiku-4-5", max_tokens=64, messages=HELLO)
    assert message.content[0].text == "Echo: Hello, world!"
    assert ai_usage.totals.cost_usd == genai_cost(message.usage) > 0


def test_stream(client, ai_usage):
    events = list(
        client.messages.create(
            model="claude-haiku-4-5", max_tokens=64, messages=HELLO, stream=True
        )
    )
    assert events[-1].type == "message_stop"
    (record,) = ai_usage.records
    assert record.usage_status == "reported"


def test_stream_helper(client, ai_usage):
    with client.messages.stream(model="claude-haiku-4-5", max_tokens=64, messages=HELLO) as s:
        final = s.get_final_message()
    assert ai_usage.totals.cost_usd == genai_cost(final.usage)


def test_async(async_anthropic_client, ai_usage):
    client = async_anthropic_client.with_options(default_headers=HEADERS)

    async def ask():
        message = await client.messages.create(
            model="claude-haiku-4-5", max_tokens=64, messages=HELLO
        )
        return message.usage

    assert ai_usage.totals.calls == 0
    usage = asyncio.run(ask())
    assert ai_usage.totals.cost_usd == genai_cost(usage)
"""
)


def test_an_anthropic_suite_replays_offline_at_the_recorded_cost_with_no_secret_on_disk(
    pytester: pytest.Pytester, server: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIUSAGE_TEST_SECRET", SECRET)
    monkeypatch.setenv("ANTHROPIC_API_KEY", SECRET)
    monkeypatch.setenv("ANTHROPIC_BASE_URL", server.anthropic_url)
    pytester.makepyfile(test_suite=SUITE)
    for _ in range(4):
        server.reply(
            usage={"input_tokens": 9, "cache_read_input_tokens": 1000, "output_tokens": 6},
            headers={"anthropic-organization-id": SECRET},
        )

    recorded = pytester.runpytest("--record-mode=once", "--aiusage-json=record.json")
    recorded.assert_outcomes(passed=4)
    assert len(server.requests) == 4
    assert server.requests[0].headers["authorization"] == f"Bearer {SECRET}"
    assert server.requests[0].headers["x-api-key"] == SECRET
    server.stop()  # from here on, a request that is not replayed fails to connect

    assert len(cassette_files(pytester.path)) == 4
    assert files_containing(pytester.path / "cassettes", SECRET, "x-stainless") == []
    message = yaml.safe_load((pytester.path / "cassettes/test_suite/test_message.yaml").read_text())
    request = message["interactions"][0]["request"]
    for name in ("authorization", "x-api-key", "anthropic-organization-id", "cookie"):
        assert request["headers"][name] == ["<REDACTED>"], name

    # Replay: no key at all (the fixtures use a dummy one), the server gone.
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    monkeypatch.delenv("AIUSAGE_TEST_SECRET")
    monkeypatch.setenv("AIUSAGE_TEST_SECRET", "replaying-without-the-secret")
    replayed = pytester.runpytest("--record-mode=none", "--aiusage-json=replay.json")
    replayed.assert_outcomes(passed=4)

    live = json.loads((pytester.path / "record.json").read_text())
    offline = json.loads((pytester.path / "replay.json").read_text())
    assert offline["tests"] == live["tests"]
    assert offline["totals"]["calls"] == 4
    assert offline["totals"]["cost_usd"] == live["totals"]["cost_usd"]
    assert float(offline["totals"]["cost_usd"]) > 0
