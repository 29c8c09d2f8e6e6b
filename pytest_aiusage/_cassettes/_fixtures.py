"""Fixtures for users' tests: provider clients set up for the test's cassette, and the fake
servers.

``openai_client`` and ``async_openai_client`` are clients wrapped with
:func:`aiusage_core.wrap_openai`; ``anthropic_client`` and ``async_anthropic_client`` are
wrapped with :func:`aiusage_core.wrap_anthropic`. Each is made for what the test is about to
do (:func:`plan_client`), the same way for both providers (``<KEY>``, ``<BASE_URL>`` and
``<fake>`` are ``OPENAI_API_KEY``, ``OPENAI_BASE_URL`` and ``fake_openai``, or
``ANTHROPIC_API_KEY``, ``ANTHROPIC_BASE_URL`` and ``fake_anthropic``):

=============================================  ==========================================
the test                                       the client
=============================================  ==========================================
``@pytest.mark.<fake>``                        the ``<fake>`` server, a dummy key,
                                               no retries (recorded in a cassette too,
                                               when the cassette records)
a cassette that replays (``--record-mode``     a dummy key, no retries, ``<BASE_URL>``
``none``, or ``once`` and the file exists)     if set (nothing leaves the process)
a cassette that records, or no cassette        ``<KEY>`` (required) and ``<BASE_URL>``
                                               from the environment, the SDK's default
                                               retries
=============================================  ==========================================

``fake_openai`` and ``fake_anthropic`` are one fake server each per session (per xdist
worker): :class:`~pytest_aiusage.fake_openai.FakeOpenAI` and
:class:`~pytest_aiusage.fake_openai.FakeAnthropic`, reset before and after each test that
uses them, so scripted replies and received requests never leak from one test to the next
and ids are the same whichever test runs first.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Literal

import pytest

from ._providers import ANTHROPIC, OPENAI, PROVIDERS, CassetteProvider
from ._replay_failure import display_path
from ._state import cassette_state

if TYPE_CHECKING:
    import anthropic
    import openai

    from ..fake_openai import FakeAnthropic, FakeOpenAI

__all__ = [
    "CASSETTE_MARKER",
    "DUMMY_API_KEY",
    "ClientPlan",
    "aiusage_fake_anthropic_server",
    "aiusage_fake_openai_server",
    "anthropic_client",
    "async_anthropic_client",
    "async_openai_client",
    "fake_anthropic",
    "fake_openai",
    "openai_client",
    "plan_client",
    "wants_openai_matching",
]

CASSETTE_MARKER: Final = "openai_cassette"
"""The marker that matches a test's cassette the OpenAI way without the plugin's fixtures."""

_CLIENT_FIXTURES: Final = frozenset(
    {
        "openai_client",
        "async_openai_client",
        "fake_openai",
        "anthropic_client",
        "async_anthropic_client",
        "fake_anthropic",
    }
)
"""The fixtures whose tests are matched the OpenAI way (which suits every provider's JSON
API: the name is older than the second provider)."""

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
    """``None``: the SDK's default (its base URL variable, or the provider's API)."""
    max_retries: int | None
    """``None``: the SDK's default."""

    def client_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for the SDK's client (``OpenAI(...)``, ``Anthropic(...)``)."""
        kwargs: dict[str, Any] = {"api_key": self.api_key}
        if self.base_url is not None:
            kwargs["base_url"] = self.base_url
        if self.max_retries is not None:
            kwargs["max_retries"] = self.max_retries
        return kwargs


def wants_openai_matching(item: pytest.Item, *, everywhere: bool) -> bool:
    """Whether ``item``'s cassette is matched with :data:`~._matchers.OPENAI_MATCH_ON` by
    default: the test opted in with one of the plugin's client or fake-server fixtures (of
    either provider), the ``openai_cassette``, ``fake_openai`` or ``fake_anthropic`` marker,
    or the run did (``everywhere``: the ``aiusage_openai_matching`` ini switch). A suite that
    only uses pytest-recording keeps its own ``match_on``, or vcrpy's default."""
    if everywhere:
        return True
    if not _CLIENT_FIXTURES.isdisjoint(getattr(item, "fixturenames", ())):
        return True
    markers = (CASSETTE_MARKER, *(provider.fake_marker for provider in PROVIDERS))
    return any(item.get_closest_marker(name) for name in markers)


def _cassette(request: pytest.FixtureRequest) -> Any | None:
    """The test's open vcrpy cassette, or ``None`` (no ``vcr`` marker, pytest-recording not
    active, or ``--disable-recording``)."""
    if "vcr" not in request.fixturenames:
        return None
    return request.getfixturevalue("vcr")


def plan_client(
    request: pytest.FixtureRequest, fixture: str, provider: CassetteProvider = OPENAI
) -> ClientPlan:
    """Decide how ``fixture`` makes its client of ``provider`` for the requesting test; fail
    the test's setup when it would call the real API without a key."""
    state = cassette_state(request.config)
    cassette = _cassette(request)
    base_url = os.environ.get(provider.base_url_variable) or None
    fake = provider.fake_marker  # also the name of the fake server's fixture
    if request.node.get_closest_marker(fake) is not None:
        server: FakeOpenAI = request.getfixturevalue(fake)
        return ClientPlan("fake", DUMMY_API_KEY, server.url, 0)
    if cassette is not None and cassette.write_protected:
        return ClientPlan("replay", DUMMY_API_KEY, base_url, 0)
    key = os.environ.get(provider.key_variable, "").strip()
    if not key:
        api = f"the real {provider.name} API"
        if cassette is not None:
            path = display_path(getattr(cassette, "_path", "?"), request.config.rootpath)
            mode = getattr(cassette.record_mode, "value", cassette.record_mode)
            why = f"recording the cassette {path} (record mode '{mode}') calls {api}"
        else:
            why = (
                "this test has no cassette (@pytest.mark.vcr) and no fake server "
                f"(@pytest.mark.{fake}), so it would call {api}"
            )
        pytest.fail(
            f"{fixture}: {why}, which needs a key: set {provider.key_variable} (and "
            f"{provider.base_url_variable} for a proxy), or mark the test @pytest.mark.{fake} "
            "to use the local fake server",
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
        _close_async(client)


def _close_async(client: Any) -> None:
    """Close an async client at a fixture's teardown."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        asyncio.run(client.close())
    # else: an event loop runs this teardown (an async test framework); the client holds
    # no connection, so it is left to the garbage collector rather than block that loop.


@pytest.fixture(scope="session")
def aiusage_fake_anthropic_server() -> Iterator[FakeAnthropic]:
    """The session's fake Anthropic server (use ``fake_anthropic``, which resets it per test)."""
    from ..fake_openai import FakeAnthropic

    server = FakeAnthropic()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def fake_anthropic(aiusage_fake_anthropic_server: FakeAnthropic) -> Iterator[FakeAnthropic]:
    """A :class:`~pytest_aiusage.fake_openai.FakeAnthropic` on 127.0.0.1, reset for this test.

    Script replies with ``fake_anthropic.reply(...)`` (usage in Anthropic's shape) and read
    ``fake_anthropic.requests``; with ``@pytest.mark.fake_anthropic`` the
    ``anthropic_client`` fixtures talk to it::

        @pytest.mark.fake_anthropic
        def test_summary(anthropic_client, fake_anthropic, ai_usage):
            fake_anthropic.reply(content="A receipt.", usage={"input_tokens": 1000,
                                                              "output_tokens": 500})
            summarise(anthropic_client)
            ai_usage.assert_cost_below("0.01")
    """
    aiusage_fake_anthropic_server.reset()
    yield aiusage_fake_anthropic_server
    aiusage_fake_anthropic_server.reset()


@pytest.fixture
def anthropic_client(request: pytest.FixtureRequest) -> Iterator[anthropic.Anthropic]:
    """An ``anthropic.Anthropic`` client, tracked (``wrap_anthropic``), set up for this
    test's cassette: a dummy key and no retries when it replays, the key from
    ``ANTHROPIC_API_KEY`` when it records, the fake server with
    ``@pytest.mark.fake_anthropic``."""
    import anthropic

    from aiusage_core import wrap_anthropic

    plan = plan_client(request, "anthropic_client", ANTHROPIC)
    client = wrap_anthropic(anthropic.Anthropic(**plan.client_kwargs()))
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def async_anthropic_client(request: pytest.FixtureRequest) -> Iterator[anthropic.AsyncAnthropic]:
    """:func:`anthropic_client` as an ``anthropic.AsyncAnthropic``.

    It keeps no idle connections, so one client serves several ``asyncio.run(...)`` calls
    in a test (a pooled connection belongs to the event loop that opened it).
    """
    import anthropic
    import httpx2

    from aiusage_core import wrap_anthropic

    plan = plan_client(request, "async_anthropic_client", ANTHROPIC)
    http_client = anthropic.DefaultAsyncHttpxClient(
        limits=httpx2.Limits(max_connections=100, max_keepalive_connections=0)
    )
    client = wrap_anthropic(
        anthropic.AsyncAnthropic(**plan.client_kwargs(), http_client=http_client)
    )
    try:
        yield client
    finally:
        _close_async(client)
