"""Fixtures of the Anthropic integration tests: the fake server, real SDK clients, a context.

Every test talks to :class:`FakeAnthropic` on 127.0.0.1 through the real ``anthropic`` SDK
(``max_retries=0`` so that a scripted error is seen once). Async tests run their body with
``asyncio.run`` and make their ``AsyncAnthropic`` client inside it.
"""

from __future__ import annotations

from collections.abc import Iterator

import anthropic
import pytest
from anthropic_testing import sdk_client

from aiusage_core import UsageContext, ai_usage_context, uninstrument_anthropic, wrap_anthropic
from pytest_aiusage.fake_openai import FakeAnthropic


@pytest.fixture
def server() -> Iterator[FakeAnthropic]:
    """A fresh fake server for the test."""
    with FakeAnthropic() as fake:
        yield fake


@pytest.fixture
def plain_client(server: FakeAnthropic) -> Iterator[anthropic.Anthropic]:
    """An unwrapped sync client."""
    with sdk_client(server) as client:
        yield client


@pytest.fixture
def client(plain_client: anthropic.Anthropic) -> anthropic.Anthropic:
    """A wrapped sync client (``wrap_anthropic`` with default options)."""
    return wrap_anthropic(plain_client)


@pytest.fixture
def usage() -> Iterator[UsageContext]:
    """An open usage context around the test body."""
    with ai_usage_context("anthropic-test") as ctx:
        yield ctx


@pytest.fixture(autouse=True)
def _never_left_instrumented() -> Iterator[None]:
    yield
    uninstrument_anthropic()
