"""``wrap_openai`` keeps the client (type, identity, derived clients) and counts each call
once; ``instrument_openai`` tracks every client and is undone exactly."""

from __future__ import annotations

import asyncio
from typing import Any

import openai
import pytest
from openai._base_client import AsyncAPIClient, SyncAPIClient
from openai_testing import API_KEY, HELLO, async_sdk_client, sdk_client, single

from aiusage_core import (
    ConfigurationError,
    MemorySink,
    UsageContext,
    configure,
    create_wrapped_openai_client,
    flush,
    instrument_openai,
    uninstrument_openai,
    wrap_openai,
)
from pytest_aiusage.fake_openai import FakeOpenAI


def chat(client: openai.OpenAI) -> None:
    client.chat.completions.create(model="gpt-4o-mini", messages=HELLO)


def test_wrapping_returns_the_same_client_still_of_its_sdk_class(
    plain_client: openai.OpenAI,
) -> None:
    wrapped = wrap_openai(plain_client)
    assert wrapped is plain_client
    assert isinstance(wrapped, openai.OpenAI)
    assert type(wrapped).__name__ == "OpenAI"
    assert repr(wrapped).startswith("<openai.OpenAI object")


@pytest.mark.parametrize(
    ("cls", "kwargs"),
    [
        (openai.OpenAI, {}),
        (openai.AsyncOpenAI, {}),
        (openai.AzureOpenAI, {"api_version": "2024-10-21", "azure_endpoint": "https://x"}),
        (openai.AsyncAzureOpenAI, {"api_version": "2024-10-21", "azure_endpoint": "https://x"}),
    ],
)
def test_every_sdk_client_class_can_be_wrapped(cls: type[Any], kwargs: dict[str, Any]) -> None:
    client = cls(api_key=API_KEY, **kwargs)
    assert isinstance(wrap_openai(client), cls)


def test_wrapping_twice_counts_each_call_once_and_keeps_earlier_options(
    plain_client: openai.OpenAI, usage: UsageContext
) -> None:
    client = wrap_openai(wrap_openai(plain_client, metadata={"team": "ocr"}), stream_usage=True)
    chat(client)
    assert single(usage).metadata["team"] == "ocr"
    list(client.chat.completions.create(model="gpt-4o-mini", messages=HELLO, stream=True))
    assert usage.records[-1].usage_status == "reported"  # stream_usage took effect
    assert len(usage.records) == 2


def test_resources_made_before_wrapping_are_tracked(
    plain_client: openai.OpenAI, usage: UsageContext
) -> None:
    completions = plain_client.chat.completions
    raw = plain_client.with_raw_response
    wrap_openai(plain_client)
    completions.create(model="gpt-4o-mini", messages=HELLO)
    raw.embeddings.create(model="text-embedding-3-small", input="Hi")
    assert [r.api for r in usage.records] == ["chat", "embeddings"]


def test_clients_derived_with_options_stay_tracked_with_the_same_options(
    plain_client: openai.OpenAI, usage: UsageContext
) -> None:
    client = wrap_openai(plain_client, metadata={"team": "ocr"})
    derived = client.with_options(timeout=30)
    assert derived is not client
    assert isinstance(derived, openai.OpenAI)
    chat(derived)
    chat(client.copy(max_retries=0))
    assert [r.metadata["team"] for r in usage.records] == ["ocr", "ocr"]


def test_other_endpoints_pass_through_untracked(client: openai.OpenAI, usage: UsageContext) -> None:
    with pytest.raises(openai.NotFoundError):  # the fake server has no /models
        client.models.list()
    assert usage.records == []


def test_outside_any_context_calls_are_still_recorded(
    client: openai.OpenAI, server: FakeOpenAI
) -> None:
    sink = MemorySink()
    with configure(sinks=[sink]):
        chat(client)
        flush()
    assert [r.context_path for r in sink.records] == [()]


def test_wrap_rejects_what_is_not_an_openai_client() -> None:
    with pytest.raises(ConfigurationError, match="not dict") as raised:
        wrap_openai({"api_key": "x"})  # type: ignore[type-var]
    assert raised.value.name == "client"


def test_create_wrapped_openai_client_makes_sync_async_and_azure_clients(
    server: FakeOpenAI, usage: UsageContext
) -> None:
    with create_wrapped_openai_client(
        api_key=API_KEY, base_url=server.url, max_retries=0
    ) as client:
        assert type(client).__mro__[1] is openai.OpenAI
        chat(client)

    async def main() -> None:
        client = create_wrapped_openai_client(
            async_=True, api_key=API_KEY, base_url=server.url, max_retries=0
        )
        assert isinstance(client, openai.AsyncOpenAI)
        async with client:
            await client.embeddings.create(model="text-embedding-3-small", input="Hi")

    asyncio.run(main())
    assert [r.api for r in usage.records] == ["chat", "embeddings"]


# -- instrumentation ----------------------------------------------------------------------------


def test_instrumentation_tracks_clients_made_before_it_and_inside_libraries(
    server: FakeOpenAI, plain_client: openai.OpenAI, usage: UsageContext
) -> None:
    def third_party_summarise() -> None:
        with sdk_client(server) as their_own:
            their_own.responses.create(model="gpt-4o-mini", input="Hi")

    chat(plain_client)
    assert usage.records == []
    instrument_openai()
    chat(plain_client)
    third_party_summarise()
    assert [r.api for r in usage.records] == ["chat", "responses"]
    uninstrument_openai()
    chat(plain_client)
    third_party_summarise()
    assert len(usage.records) == 2


def test_a_wrapped_client_under_instrumentation_is_counted_once(
    plain_client: openai.OpenAI, usage: UsageContext, server: FakeOpenAI
) -> None:
    instrument_openai(metadata={"by": "instrumentation"})
    client = wrap_openai(plain_client, metadata={"by": "wrap"})
    chat(client)
    list(client.chat.completions.create(model="gpt-4o-mini", messages=HELLO, stream=True))

    async def main() -> None:
        async with async_sdk_client(server) as plain:
            await wrap_openai(plain).embeddings.create(model="text-embedding-3-small", input="x")

    asyncio.run(main())
    assert [r.api for r in usage.records] == ["chat", "chat", "embeddings"]
    assert usage.records[0].metadata["by"] == "wrap"


def test_instrumentation_covers_async_and_azure_clients(
    server: FakeOpenAI, usage: UsageContext
) -> None:
    instrument_openai()
    instrument_openai()  # idempotent

    async def main() -> None:
        async with async_sdk_client(server) as plain:
            await plain.chat.completions.create(model="gpt-4o-mini", messages=HELLO)

    asyncio.run(main())
    azure = openai.AzureOpenAI(
        api_key=API_KEY, api_version="2024-10-21", base_url=server.url, max_retries=0
    )
    with azure, pytest.raises(openai.NotFoundError):  # /deployments/... is not served
        azure.chat.completions.create(model="gpt-4o-mini", messages=HELLO)
    assert [(r.provider, r.error is None) for r in usage.records] == [
        ("openai", True),
        ("azure", False),
    ]


def test_uninstrument_restores_the_sdk_classes_exactly() -> None:
    before = {cls: dict(vars(cls)) for cls in (openai.OpenAI, openai.AsyncOpenAI)}
    instrument_openai()
    assert "request" in vars(openai.OpenAI)
    uninstrument_openai()
    uninstrument_openai()  # a no-op now
    assert {cls: dict(vars(cls)) for cls in before} == before
    assert openai.OpenAI.request is SyncAPIClient.request
    assert openai.AsyncOpenAI.request is AsyncAPIClient.request


def test_uninstrument_under_a_later_patch_leaves_ours_inert_in_the_chain(
    plain_client: openai.OpenAI, usage: UsageContext, caplog: pytest.LogCaptureFixture
) -> None:
    instrument_openai()
    ours = vars(openai.OpenAI)["request"]

    def theirs(self: openai.OpenAI, *args: Any, **kwargs: Any) -> Any:
        return ours(self, *args, **kwargs)

    openai.OpenAI.request = theirs  # type: ignore[method-assign]
    try:
        uninstrument_openai()
        assert "patched again" in caplog.text
        assert vars(openai.OpenAI)["request"] is theirs
        chat(plain_client)
        assert usage.records == []
        instrument_openai()
        chat(plain_client)
        assert len(usage.records) == 1
    finally:
        openai.OpenAI.request = ours  # type: ignore[method-assign]
        uninstrument_openai()
    assert "request" not in vars(openai.OpenAI)


def test_a_failure_inside_tracking_is_logged_and_never_reaches_the_caller(
    client: openai.OpenAI,
    usage: UsageContext,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    import aiusage_core._calls as calls

    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("sink on fire")

    monkeypatch.setattr(calls, "emit", broken)
    completion = client.chat.completions.create(model="gpt-4o-mini", messages=HELLO)
    chunks = list(client.chat.completions.create(model="gpt-4o-mini", messages=HELLO, stream=True))
    assert completion.choices
    assert chunks
    assert usage.records == []
    assert caplog.text.count("recording an OpenAI chat call failed") == 2
