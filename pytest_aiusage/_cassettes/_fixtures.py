"""Fixtures for users' tests: OpenAI clients set up for the test's cassette, and the fake server.

``openai_client`` and ``async_openai_client`` are clients wrapped with
:func:`aiusage_core.wrap_openai`, made for what the test is about to do (:func:`plan_client`):

=============================================  ==========================================
the test                                       the client
=============================================  ==========================================
``@pytest.mark.fake_openai``                   the ``fake_openai`` server, a dummy key,
                                               no retries (recorded in a cassette too,
                                               when the cassette records)
a cassette that replays (``--record-mode``     a dummy key, no retries, ``OPENAI_BASE_URL``
``none``, or ``once`` and the file exists)     if set (nothing leaves the process)
a cassette that records, or no cassette        ``OPENAI_API_KEY`` (required) and
                                               ``OPENAI_BASE_URL`` from the environment,
                                               the SDK's default retries
=============================================  ==========================================

``fake_openai`` is one :class:`~pytest_aiusage.fake_openai.FakeOpenAI` per session (per xdist
worker), reset before and after each test that uses it, so scripted replies and received
requests never leak from one test to the next and ids are the same whichever test runs first.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Literal

import pytest

from .._names import CASSETTE_MARKER, FAKE_MARKER
from ._replay_failure import display_path
from ._state import cassette_state

if TYPE_CHECKING:
    import openai

    from ..fake_openai import FakeOpenAI

__all__ = [
    "CASSETTE_MARKER",
    "DUMMY_API_KEY",
    "ClientPlan",
    "aiusage_fake_openai_server",
    "async_openai_client",
    "fake_openai",
    "openai_client",
    "plan_client",
    "wants_openai_matching",
]


_OPENAI_FIXTURES: Final = frozenset({"openai_client", "async_openai_client", "fake_openai"})

DUMMY_API_KEY: Final = "aiusage-dummy-key"
"""The key of clients that never reach the real API (replay and the fake server)."""

ClientMode = Literal["fake", "replay", "record", "live"]


@dataclass(frozen=True, slots=True)
class ClientPlan:
    """How the client fixtures make a client for one test."""

    mode: ClientMode
    """``fake``: the fake server; ``replay``: answered from a cassette; ``record``: the
    real API, recorded; ``live``: the real API, no cassette."""
    api_key: str
    base_url: str | None
    """``None``: the SDK's default (``OPENAI_BASE_URL`` or ``https://api.openai.com/v1``)."""
    max_retries: int | None
    """``None``: the SDK's default."""

    def client_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``OpenAI(...)`` / ``AsyncOpenAI(...)``."""
        kwargs: dict[str, Any] = {"api_key": self.api_key}
        if self.base_url is not None:
            kwargs["base_url"] = self.base_url
        if self.max_retries is not None:
            kwargs["max_retries"] = self.max_retries
        return kwargs


def wants_openai_matching(item: pytest.Item, *, everywhere: bool) -> bool:
    """Whether ``item``'s cassette is matched with :data:`~._matchers.OPENAI_MATCH_ON` by
    default: the test opted in with one of the plugin's client or fake-server fixtures, the
    ``openai_cassette`` or ``fake_openai`` marker, or the run did (``everywhere``: the
    ``aiusage_openai_matching`` ini switch). A suite that only uses pytest-recording keeps
    its own ``match_on``, or vcrpy's default."""
    if everywhere:
        return True
    if not _OPENAI_FIXTURES.isdisjoint(getattr(item, "fixturenames", ())):
        return True
    return any(item.get_closest_marker(name) for name in (CASSETTE_MARKER, FAKE_MARKER))


def _cassette(request: pytest.FixtureRequest) -> Any | None:
    """The test's open vcrpy cassette, or ``None`` (no ``vcr`` marker, pytest-recording not
    active, or ``--disable-recording``)."""
    if "vcr" not in request.fixturenames:
        return None
    return request.getfixturevalue("vcr")


def plan_client(request: pytest.FixtureRequest, fixture: str) -> ClientPlan:
    """Decide how ``fixture`` makes its client for the requesting test; fail the test's
    setup when it would call the real API without a key."""
    state = cassette_state(request.config)
    cassette = _cassette(request)
    base_url = os.environ.get("OPENAI_BASE_URL") or None
    if request.node.get_closest_marker(FAKE_MARKER) is not None:
        server: FakeOpenAI = request.getfixturevalue("fake_openai")
        return ClientPlan("fake", DUMMY_API_KEY, server.url, 0)
    if cassette is not None and cassette.write_protected:
        return ClientPlan("replay", DUMMY_API_KEY, base_url, 0)
    key = os.environ.get("OPENAI_API_KEY", "").strip()
    if not key:
        if cassette is not None:
            path = display_path(getattr(cassette, "_path", "?"), request.config.rootpath)
            mode = getattr(cassette.record_mode, "value", cassette.record_mode)
            why = f"recording the cassette {path} (record mode '{mode}') calls the real OpenAI API"
        else:
            why = (
                "this test has no cassette (@pytest.mark.vcr) and no fake server "
                "(@pytest.mark.fake_openai), so it would call the real OpenAI API"
            )
        pytest.fail(
            f"{fixture}: {why}, which needs a key: set OPENAI_API_KEY (and OPENAI_BASE_URL "
            "for a proxy), or mark the test @pytest.mark.fake_openai to use the local fake "
            "server",
            pytrace=False,
        )
    state.add_secret(key)
    return ClientPlan("record" if cassette is not None else "live", key, base_url, None)


@pytest.fixture(scope="session")
def aiusage_fake_openai_server() -> Iterator[FakeOpenAI]:
    """The session's fake OpenAI server (use ``fake_openai``, which resets it per test)."""
    from ..fake_openai import FakeOpenAI

    with FakeOpenAI() as server:
        yield server


@pytest.fixture
def fake_openai(aiusage_fake_openai_server: FakeOpenAI) -> Iterator[FakeOpenAI]:
    """A :class:`~pytest_aiusage.fake_openai.FakeOpenAI` on 127.0.0.1, reset for this test.

    Script replies with ``fake_openai.reply(...)`` and read ``fake_openai.requests``; with
    ``@pytest.mark.fake_openai`` the ``openai_client`` fixtures talk to it::

        @pytest.mark.fake_openai
        def test_summary(openai_client, fake_openai, ai_usage):
            fake_openai.reply(content="A receipt.", usage={"prompt_tokens": 1000,
                                                          "completion_tokens": 500})
            summarise(openai_client)
            ai_usage.assert_cost_below("0.001")
    """
    aiusage_fake_openai_server.reset()
    yield aiusage_fake_openai_server
    aiusage_fake_openai_server.reset()


@pytest.fixture
def openai_client(request: pytest.FixtureRequest) -> Iterator[openai.OpenAI]:
    """An ``openai.OpenAI`` client, tracked (``wrap_openai``), set up for this test's
    cassette: a dummy key and no retries when it replays, the key from ``OPENAI_API_KEY``
    when it records, the fake server with ``@pytest.mark.fake_openai``."""
    import openai

    from aiusage_core import wrap_openai

    plan = plan_client(request, "openai_client")
    client = wrap_openai(openai.OpenAI(**plan.client_kwargs()))
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def async_openai_client(request: pytest.FixtureRequest) -> Iterator[openai.AsyncOpenAI]:
    """:func:`openai_client` as an ``openai.AsyncOpenAI``.

    It keeps no idle connections, so one client serves several ``asyncio.run(...)`` calls
    in a test (a pooled connection belongs to the event loop that opened it).
    """
    import httpx2
    import openai

    from aiusage_core import wrap_openai

    plan = plan_client(request, "async_openai_client")
    http_client = openai.DefaultAsyncHttpx2Client(
        limits=httpx2.Limits(max_connections=100, max_keepalive_connections=0)
    )
    client = wrap_openai(openai.AsyncOpenAI(**plan.client_kwargs(), http_client=http_client))
    try:
        yield client
    finally:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            asyncio.run(client.close())
        # else: an event loop runs this teardown (an async test framework); the client holds
        # no connection, so it is left to the garbage collector rather than block that loop.
