"""Record a suite once from a real HTTP server, replay it offline: same costs, no secret on disk."""

from __future__ import annotations

import json

import pytest
import yaml
from cassette_testing import SECRET, cassette_files, files_containing

from pytest_aiusage.fake_openai import FakeOpenAI

SUITE = """
import asyncio
import os

import pytest

pytestmark = pytest.mark.vcr

SECRET = os.environ["AIUSAGE_TEST_SECRET"]
HEADERS = {
    "Authorization": f"Bearer {SECRET}",
    "OpenAI-Organization": SECRET,
    "OpenAI-Project": SECRET,
    "api-key": SECRET,
    "Cookie": f"session={SECRET}",
}
QUERY = {"api-key": SECRET}
HELLO = [{"role": "user", "content": "Hello, world!"}]


@pytest.fixture
def client(openai_client):
    return openai_client.with_options(default_headers=HEADERS, default_query=QUERY)


def test_chat(client):
    completion = client.chat.completions.create(model="gpt-4o-mini", messages=HELLO)
    assert completion.choices[0].message.content == "Echo: Hello, world!"


def test_streaming_chat(client, ai_usage):
    stream = client.chat.completions.create(
        model="gpt-4o-mini", messages=HELLO, stream=True, stream_options={"include_usage": True}
    )
    text = "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
    assert text == "Echo: Hello, world!"
    assert (ai_usage.totals.input_tokens, ai_usage.totals.output_tokens) == (10, 6)
    assert ai_usage.records[0].usage_status == "reported"


def test_embeddings(client):
    client.embeddings.create(model="text-embedding-3-small", input="Hello, world!")


def test_responses(client):
    response = client.responses.create(model="gpt-4o-mini", input="Hello, world!")
    assert response.output_text == "Echo: Hello, world!"


def test_async(async_openai_client):
    client = async_openai_client.with_options(default_headers=HEADERS, default_query=QUERY)

    async def ask():
        completion = await client.chat.completions.create(model="gpt-4o-mini", messages=HELLO)
        return completion.usage.total_tokens

    assert asyncio.run(ask()) + asyncio.run(ask()) == 32


def test_secret_in_the_prompt(client):
    completion = client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": f"My key: {SECRET}"}]
    )
    assert completion.usage.prompt_tokens > 10
"""

# Costs worked out from the fake server's token counts ("Hello, world!" is 4 tokens, a chat
# message 3 more, the reply priming 3; "Echo: Hello, world!" is 6) and the published prices:
# 10 x 0.15 + 6 x 0.60 = 5.1 per million tokens of gpt-4o-mini.
EXPECTED = {
    "test_chat": (1, 16, "0.0000051"),
    "test_streaming_chat": (1, 16, "0.0000051"),
    "test_responses": (1, 16, "0.0000051"),
    "test_embeddings": (1, 4, "0.00000008"),  # 4 tokens x 0.02 per million
    "test_async": (2, 32, "0.0000102"),
}


def _by_test(path: str) -> dict[str, dict[str, object]]:
    with open(path, encoding="utf-8") as handle:
        report = json.load(handle)
    return {t["nodeid"].split("::")[1]: t for t in report["tests"]}


def test_a_recorded_suite_replays_offline_with_equal_costs_and_no_secret_on_disk(
    pytester: pytest.Pytester, server: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIUSAGE_TEST_SECRET", SECRET)
    monkeypatch.setenv("OPENAI_API_KEY", "recording-key-0123456789")
    monkeypatch.setenv("OPENAI_BASE_URL", server.url)
    pytester.makepyfile(test_suite=SUITE)

    recorded = pytester.runpytest("--record-mode=once", "--aiusage-json=record.json")
    recorded.assert_outcomes(passed=6)
    assert len(server.requests) == 7
    sent = server.requests[0]
    assert sent.headers["openai-project"] == SECRET
    assert sent.query == {"api-key": SECRET}
    assert "x-stainless-os" in sent.headers
    server.stop()  # from here on, a request that is not replayed fails to connect

    cassettes = cassette_files(pytester.path)
    assert [p.name for p in cassettes] == [
        "test_async.yaml",
        "test_chat.yaml",
        "test_embeddings.yaml",
        "test_responses.yaml",
        "test_secret_in_the_prompt.yaml",
        "test_streaming_chat.yaml",
    ]
    assert files_containing(pytester.path, SECRET, "recording-key-0123456789") == []
    assert files_containing(pytester.path, "x-stainless") == []

    chat = yaml.safe_load((pytester.path / "cassettes/test_suite/test_chat.yaml").read_text())
    (interaction,) = chat["interactions"]
    request, response = interaction["request"], interaction["response"]
    for name in ("authorization", "openai-organization", "openai-project", "api-key", "cookie"):
        assert request["headers"][name] == ["<REDACTED>"], name
    assert request["uri"].endswith("/v1/chat/completions?api-key=%3CREDACTED%3E")
    # The server gzipped the body; the cassette holds it decoded, and readable.
    assert "content-encoding" not in {name.lower() for name in response["headers"]}
    assert json.loads(response["body"]["string"])["usage"]["total_tokens"] == 16
    stream = yaml.safe_load(
        (pytester.path / "cassettes/test_suite/test_streaming_chat.yaml").read_text()
    )
    sse = stream["interactions"][0]["response"]["body"]["string"]
    assert sse.endswith("data: [DONE]\n\n")
    assert sse.count("data: ") == 7  # role, 3 words, finish, usage, [DONE]
    echoed = (pytester.path / "cassettes/test_suite/test_secret_in_the_prompt.yaml").read_text()
    assert "My key: <REDACTED>" in echoed

    monkeypatch.delenv("OPENAI_API_KEY")
    replayed = pytester.runpytest("--record-mode=none", "--aiusage-json=replay.json")
    replayed.assert_outcomes(passed=6)

    live, offline = _by_test("record.json"), _by_test("replay.json")
    assert offline == live
    for name, (calls, tokens, cost) in EXPECTED.items():
        got = offline[name]
        assert (got["calls"], got["total_tokens"], got["cost_usd"]) == (calls, tokens, cost), name


KEY_ORDER = """
import os

import pytest


@pytest.mark.vcr
@pytest.mark.fake_openai
def test_key_order(openai_client):
    if os.environ["ORDER"] == "recorded":
        message = {"role": "user", "content": "hi"}
    else:
        message = {"content": "hi", "role": "user"}
    completion = openai_client.chat.completions.create(model="gpt-4o-mini", messages=[message])
    assert completion.usage.total_tokens == 10
"""


def test_json_bodies_match_whatever_their_key_order(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makepyfile(test_order=KEY_ORDER)
    monkeypatch.setenv("ORDER", "recorded")
    pytester.runpytest("--record-mode=once").assert_outcomes(passed=1)
    (cassette,) = cassette_files(pytester.path)
    assert '{"role":"user","content":"hi"}' in cassette.read_text()

    monkeypatch.setenv("ORDER", "reversed")
    pytester.runpytest("--record-mode=none").assert_outcomes(passed=1)


SCRUB_ANYWAY = """
import os

import pytest
from vcr.persisters.filesystem import FilesystemPersister


@pytest.fixture
def vcr_config():
    # Everything that could let a secret through, turned off or replaced.
    return {
        "filter_headers": [],
        "filter_query_parameters": [],
        "decode_compressed_response": False,
        "serializer": "json",
        "persister": FilesystemPersister,
        "before_record_response": lambda response: response,
    }


@pytest.mark.vcr
def test_summary(openai_client):
    key = os.environ["OPENAI_API_KEY"]
    client = openai_client.with_options(
        default_headers={"X-Team-Token": "team-token-0123456789"}, default_query={"key": key}
    )
    completion = client.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": f"{key} and team-token-0123456789"}],
    )
    assert key in completion.choices[0].message.content
"""


def test_secrets_are_scrubbed_whatever_the_users_vcr_config_says(
    pytester: pytest.Pytester, server: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A key that does not look like an OpenAI key: only knowing it finds it in the bodies.
    monkeypatch.setenv("OPENAI_API_KEY", "plain-env-key-0123456789")
    monkeypatch.setenv("OPENAI_BASE_URL", server.url)
    pytester.makepyfile(test_scrub=SCRUB_ANYWAY)
    pytester.runpytest("--record-mode=once").assert_outcomes(passed=1)

    (cassette,) = cassette_files(pytester.path)
    assert cassette.name == "test_summary.json"
    assert files_containing(pytester.path, "plain-env-key-0123456789") == []
    # (the test file itself holds the header's value, so only the cassettes are searched)
    assert files_containing(pytester.path / "cassettes", "team-token-") == []
    (interaction,) = json.loads(cassette.read_text())["interactions"]
    assert interaction["request"]["headers"]["authorization"] == ["<REDACTED>"]
    assert interaction["request"]["headers"]["x-team-token"] == ["<REDACTED>"]
    assert interaction["request"]["uri"].endswith("/v1/chat/completions?key=%3CREDACTED%3E")
    body = json.loads(interaction["response"]["body"]["string"])
    # The secrets were replaced in the gzipped reply too, which was decoded to be searched.
    reply = body["choices"][0]["message"]["content"]
    assert reply == "Echo: <REDACTED> and <REDACTED>"
    assert interaction["response"]["headers"]["content-length"] == [
        str(len(interaction["response"]["body"]["string"].encode()))
    ]
