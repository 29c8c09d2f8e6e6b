"""Fixtures of the OpenAI integration tests: the fake server, real SDK clients, a context.

Every test talks to :class:`FakeOpenAI` on 127.0.0.1 through the real ``openai`` SDK
(``max_retries=0`` so that a scripted error is seen once). Async tests run their body with
``asyncio.run`` and make their ``AsyncOpenAI`` client inside it.
"""

from __future__ import annotations

from collections.abc import Iterator

import openai
import pytest
from openai_testing import sdk_client

from aiusage_core import UsageContext, ai_usage_context, uninstrument_openai, wrap_openai
from pytest_aiusage.fake_openai import FakeOpenAI


@pytest.fixture
def server() -> Iterator[FakeOpenAI]:
    """A fresh fake OpenAI server for the test."""
    with FakeOpenAI() as fake:
        yield fake


@pytest.fixture
def plain_client(server: FakeOpenAI) -> Iterator[openai.OpenAI]:
    """An unwrapped sync client."""
    with sdk_client(server) as client:
        yield client


@pytest.fixture
def client(plain_client: openai.OpenAI) -> openai.OpenAI:
    """A wrapped sync client (``wrap_openai`` with default options)."""
    return wrap_openai(plain_client)


@pytest.fixture
def usage() -> Iterator[UsageContext]:
    """An open usage context around the test body."""
    with ai_usage_context("openai-test") as ctx:
        yield ctx


@pytest.fixture(autouse=True)
def _never_left_instrumented() -> Iterator[None]:
    yield
    uninstrument_openai()
