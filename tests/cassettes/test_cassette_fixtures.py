"""The client fixtures and the fake server, as a user's suite sees them."""

from __future__ import annotations

import pytest

FIXTURES = """
import asyncio
from decimal import Decimal

import openai
import pytest


@pytest.mark.fake_openai
def test_scripted_usage_is_what_the_test_costs(openai_client, fake_openai, ai_usage):
    fake_openai.reply(content="A receipt.", usage={"prompt_tokens": 1000, "completion_tokens": 500})
    completion = openai_client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "Summarise"}]
    )
    assert completion.choices[0].message.content == "A receipt."
    assert fake_openai.requests[0].headers["authorization"] == "Bearer aiusage-dummy-key"
    assert ai_usage.totals.cost_usd == Decimal("0.00045")
    fake_openai.reply(status=429)  # never consumed: must not reach the next test


@pytest.mark.fake_openai
def test_each_test_gets_a_reset_server(openai_client, fake_openai):
    assert (fake_openai.pending_replies, fake_openai.requests) == (0, [])
    openai_client.embeddings.create(model="text-embedding-3-small", input="receipt")


@pytest.mark.fake_openai
def test_error_statuses_are_not_retried(openai_client, fake_openai):
    fake_openai.reply(status=429)
    with pytest.raises(openai.RateLimitError):
        openai_client.embeddings.create(model="text-embedding-3-small", input="receipt")
    assert len(fake_openai.requests) == 1


@pytest.mark.fake_openai
def test_the_async_client_talks_to_the_fake_server(async_openai_client, fake_openai, ai_usage):
    async def ask():
        return await async_openai_client.responses.create(model="gpt-4o-mini", input="Hi")

    assert asyncio.run(ask()).output_text == "Echo: Hi"
    assert asyncio.run(ask()).output_text == "Echo: Hi"
    ai_usage.assert_calls(2)
    assert len(fake_openai.requests) == 2


def test_without_cassette_or_key(openai_client):
    pass


@pytest.mark.vcr
def test_recording_without_key(async_openai_client):
    pass
"""


def test_the_fixtures_use_the_fake_server_and_refuse_to_call_the_real_api_without_a_key(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(test_fixtures=FIXTURES)
    result = pytester.runpytest("--record-mode=once")
    result.assert_outcomes(passed=4, errors=2)
    result.stdout.fnmatch_lines(
        [
            "*_ ERROR at setup of test_without_cassette_or_key _*",
            "openai_client: this test has no cassette (@pytest.mark.vcr) and no fake server "
            "(@pytest.mark.fake_openai), so it would call the real OpenAI API, which needs a "
            "key: set OPENAI_API_KEY (and OPENAI_BASE_URL for a proxy), or mark the test "
            "@pytest.mark.fake_openai to use the local fake server",
            "*_ ERROR at setup of test_recording_without_key _*",
            "async_openai_client: recording the cassette "
            "cassettes/test_fixtures/test_recording_without_key.yaml (record mode 'once') "
            "calls the real OpenAI API, which needs a key: set OPENAI_API_KEY*",
        ]
    )


def test_the_fixtures_work_without_pytest_recording(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_fixtures=FIXTURES)
    result = pytester.runpytest("-p", "no:recording", "-k", "fake_server or scripted")
    result.assert_outcomes(passed=2, deselected=4)
