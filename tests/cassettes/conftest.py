"""Shared pieces of the cassette tests.

Inner runs (``pytester``) load the plugin from its entry point together with
pytest-recording, as a user's suite would; requests go to a real
:class:`~pytest_aiusage.fake_openai.FakeOpenAI` on 127.0.0.1 (which also speaks Anthropic's
wire format), or to none at all on replay.
Expected figures come from genai-prices' published prices (US dollars per million tokens):
gpt-4o-mini input 0.15, output 0.60; text-embedding-3-small input 0.02.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import openai
import pytest
import vcr
from cassette_testing import INNER_INI

import pytest_aiusage._cassettes._persister  # noqa: F401
from aiusage_core import ai_usage_context, wrap_openai
from pytest_aiusage.fake_openai import FakeOpenAI


def _exercise(client: openai.OpenAI, async_client: openai.AsyncOpenAI) -> None:
    hello = [{"role": "user", "content": "hi"}]
    client.chat.completions.create(model="gpt-4o-mini", messages=hello)
    stream = client.chat.completions.create(
        model="gpt-4o-mini",
        messages=hello,
        stream=True,
        stream_options={"include_usage": True},
    )
    list(stream)
    client.embeddings.create(model="text-embedding-3-small", input="hi")
    client.responses.create(model="gpt-4o-mini", input="hi")
    list(client.responses.create(model="gpt-4o-mini", input="hi", stream=True))

    async def ask() -> None:
        await async_client.chat.completions.create(model="gpt-4o-mini", messages=hello)
        await async_client.embeddings.create(model="text-embedding-3-small", input="hi")
        await async_client.close()

    asyncio.run(ask())
    client.close()


def _exercise_anthropic(base_url: str) -> None:
    hello: list[Any] = [{"role": "user", "content": "hi"}]
    client = anthropic.Anthropic(api_key="k", base_url=base_url)
    client.messages.create(model="claude-haiku-4-5", max_tokens=16, messages=hello)
    list(
        client.messages.create(model="claude-haiku-4-5", max_tokens=16, messages=hello, stream=True)
    )
    client.close()

    async def ask() -> None:
        async_client = anthropic.AsyncAnthropic(api_key="k", base_url=base_url)
        await async_client.messages.create(model="claude-haiku-4-5", max_tokens=16, messages=hello)
        await async_client.close()

    asyncio.run(ask())


@pytest.fixture(scope="session", autouse=True)
def _load_lazy_modules(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Record and replay a little of everything the inner runs do, in this process, first.

    pytester forgets the modules an in-process run imported, and a module imported again
    makes new classes: httpx2 then no longer recognises the exceptions of a re-imported
    httpcore2, and PyYAML's re-imported loader knows no tags, breaking the tests that run
    after (in this folder or another). Loading the HTTP stack, the SDK's resources and
    vcrpy's stubs once, here, keeps them out of every inner run's reach (and saves each
    inner run a second of imports).
    """
    cassette = Path(tmp_path_factory.mktemp("warm")) / "warm.yaml"
    with FakeOpenAI(gzip=True) as server:
        for mode in ("once", "none", "all"):  # record, replay, then live through the stubs
            with (
                vcr.VCR().use_cassette(str(cassette), record_mode=mode),
                ai_usage_context("warm-up"),
            ):
                client = wrap_openai(openai.OpenAI(api_key="k", base_url=server.url))
                async_client = wrap_openai(openai.AsyncOpenAI(api_key="k", base_url=server.url))
                _exercise(client, async_client)
                _exercise_anthropic(server.anthropic_url)


@pytest.fixture
def pytester(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """``pytester`` with the inner runs' ini, and no provider settings from the environment."""
    pytester.makeini(INNER_INI)
    for name in (
        "OPENAI_API_KEY",
        "OPENAI_BASE_URL",
        "OPENAI_ORG_ID",
        "OPENAI_PROJECT_ID",
        "ANTHROPIC_API_KEY",
        "ANTHROPIC_AUTH_TOKEN",
        "ANTHROPIC_BASE_URL",
    ):
        monkeypatch.delenv(name, raising=False)
    return pytester


@pytest.fixture
def server() -> Iterator[FakeOpenAI]:
    """A fake OpenAI server the inner runs record from (gzip-compressing its JSON bodies)."""
    with FakeOpenAI(gzip=True) as fake:
        yield fake
