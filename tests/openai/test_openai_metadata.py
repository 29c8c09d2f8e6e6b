"""Metadata: client defaults < contexts < the call's own, in records; and ``send_metadata``,
which sends it to OpenAI only where accepted and only within OpenAI's limits."""

from __future__ import annotations

import asyncio
import json

import openai
import pytest
from openai_testing import HELLO, async_sdk_client, sdk_client, single

from aiusage_core import (
    MetadataError,
    UsageContext,
    ai_usage_context,
    instrument_openai,
    wrap_openai,
)
from pytest_aiusage.fake_openai import FakeOpenAI


def test_client_defaults_sit_below_contexts_which_sit_below_the_call(
    server: FakeOpenAI, plain_client: openai.OpenAI
) -> None:
    client = wrap_openai(
        plain_client, metadata={"team": "ocr", "layer": "client", "tags": {"a": 1}}
    )
    with (
        ai_usage_context("outer", layer="outer", job_id="job-1", tags={"b": 2}) as outer,
        ai_usage_context("inner", layer="inner"),
    ):
        client.chat.completions.create(
            model="gpt-4o-mini", messages=HELLO, store=True, metadata={"layer": "call"}
        )
        client.chat.completions.create(model="gpt-4o-mini", messages=HELLO)
    by_call, by_context = outer.records
    assert dict(by_call.metadata) == {
        "environment": "test",
        "ci": False,
        "team": "ocr",
        "layer": "call",
        "job_id": "job-1",
        "tags": {"a": 1, "b": 2},
    }
    assert by_context.metadata["layer"] == "inner"
    assert by_context.context_path == ("outer", "inner")


def test_instrumentation_defaults_apply_to_clients_that_were_not_wrapped(
    plain_client: openai.OpenAI, usage: UsageContext
) -> None:
    instrument_openai(metadata={"source": "instrumented"})
    plain_client.embeddings.create(model="text-embedding-3-small", input="Hi")
    assert single(usage).metadata["source"] == "instrumented"


def test_by_default_the_request_body_is_exactly_what_the_caller_built() -> None:
    kwargs = {
        "model": "gpt-4o-mini",
        "messages": HELLO,
        "store": True,
        "metadata": {"k": "v"},
        "stream": True,
    }
    with FakeOpenAI() as first, FakeOpenAI() as second:
        with sdk_client(first) as plain:
            list(plain.chat.completions.create(**kwargs))  # type: ignore[call-overload]
        with sdk_client(second) as plain, ai_usage_context("job", team="ocr"):
            client = wrap_openai(plain, metadata={"m": "1"})
            list(client.chat.completions.create(**kwargs))  # type: ignore[call-overload]
        assert second.requests[0].body == first.requests[0].body


def _sent_metadata(server: FakeOpenAI) -> object:
    return server.requests[-1].json.get("metadata")


def test_send_metadata_sends_the_merged_metadata_as_strings_on_stored_chat_calls(
    server: FakeOpenAI, plain_client: openai.OpenAI
) -> None:
    client = wrap_openai(plain_client, metadata={"team": "ocr"}, send_metadata=True)
    with ai_usage_context("receipts", job_id=42, tags={"b": True}):
        client.chat.completions.create(
            model="gpt-4o-mini", messages=HELLO, store=True, metadata={"user": "u-1"}
        )
    assert _sent_metadata(server) == {
        "environment": "test",
        "ci": "false",
        "team": "ocr",
        "job_id": "42",
        "tags": '{"b":true}',
        "user": "u-1",
    }


def test_send_metadata_leaves_chat_calls_that_are_not_stored_alone(
    server: FakeOpenAI, plain_client: openai.OpenAI
) -> None:
    client = wrap_openai(plain_client, send_metadata=True)
    with ai_usage_context("receipts", job_id="j"):
        client.chat.completions.create(model="gpt-4o-mini", messages=HELLO)
        client.embeddings.create(model="text-embedding-3-small", input="Hi")
    assert [r.json.get("metadata") for r in server.requests] == [None, None]


def test_send_metadata_always_sends_on_the_responses_api(server: FakeOpenAI) -> None:
    async def main() -> None:
        async with async_sdk_client(server) as plain:
            client = wrap_openai(plain, send_metadata=True)
            with ai_usage_context("receipts", job_id="j"):
                await client.responses.create(model="gpt-4o-mini", input="Hi")

    asyncio.run(main())
    assert _sent_metadata(server) == {"environment": "test", "ci": "false", "job_id": "j"}


@pytest.mark.parametrize(
    ("metadata", "key", "message"),
    [
        ({f"k{i:02}": "v" for i in range(15)}, "k14", "at most 16"),
        ({"k" * 65: "v"}, "k" * 65, "at most 64"),
        ({"note": "x" * 513}, "note", "at most 512"),
        ({"nested": {"text": "y" * 520}}, "nested", "at most 512"),
    ],
)
def test_send_metadata_rejects_what_openai_would_reject_naming_the_key(
    server: FakeOpenAI,
    plain_client: openai.OpenAI,
    usage: UsageContext,
    metadata: dict[str, object],
    key: str,
    message: str,
) -> None:
    client = wrap_openai(plain_client, send_metadata=True)
    with ai_usage_context("big", **metadata), pytest.raises(MetadataError) as raised:
        client.responses.create(model="gpt-4o-mini", input="Hi")
    assert raised.value.key == key
    assert message in str(raised.value)
    assert "context 'big'" in str(raised.value)
    assert server.requests == []  # nothing was sent
    assert usage.records == []  # and no call was made


def test_send_metadata_values_are_json_for_non_strings(
    server: FakeOpenAI, plain_client: openai.OpenAI
) -> None:
    client = wrap_openai(plain_client, send_metadata=True)
    with ai_usage_context("x", n=1.5, none=None, items=[1, "a"]):
        client.responses.create(model="gpt-4o-mini", input="Hi")
    sent = _sent_metadata(server)
    assert isinstance(sent, dict)
    assert (sent["n"], sent["none"], json.loads(sent["items"])) == ("1.5", "null", [1, "a"])


def test_wrap_options_are_validated_at_once(plain_client: openai.OpenAI) -> None:
    with pytest.raises(MetadataError):
        wrap_openai(plain_client, metadata={"when": object()})
    with pytest.raises(ValueError, match="send_metadata"):
        wrap_openai(plain_client, send_metadata="yes")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="provider"):
        wrap_openai(plain_client, provider="")
