"""What a server sends never raises into the caller and never makes a record no sink can
store: counts over MAX_COUNT make the usage ``missing``; unencodable text is escaped."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import openai
import pytest
from openai_testing import HELLO

from aiusage_core import (
    JsonlSink,
    Ledger,
    SQLiteSink,
    ai_usage_context,
    configure,
    wrap_openai,
)
from aiusage_core._limits import MAX_COUNT
from pytest_aiusage.fake_openai import FakeOpenAI


@pytest.mark.parametrize(
    "usage",
    [
        {"prompt_tokens": 10**19, "completion_tokens": 5},
        {"prompt_tokens": 10, "completion_tokens": MAX_COUNT + 1},
        {
            "prompt_tokens": 2**63,
            "completion_tokens": 2**63,
            "prompt_tokens_details": {"cached_tokens": 2**63},
        },
    ],
)
def test_a_server_count_over_the_maximum_is_recorded_as_missing_and_stored(
    usage: dict[str, Any],
    server: FakeOpenAI,
    plain_client: openai.OpenAI,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    client = wrap_openai(plain_client)
    ledger, lines = tmp_path / "l.db", tmp_path / "l.jsonl"
    server.reply(usage=usage)
    server.reply(usage={"prompt_tokens": 3, "completion_tokens": 4})
    with configure(sinks=[SQLiteSink(ledger), JsonlSink(lines)]), ai_usage_context("job") as ctx:
        first = client.chat.completions.create(model="gpt-4o-mini", messages=HELLO)
        client.chat.completions.create(model="gpt-4o-mini", messages=HELLO)
    assert first.choices  # the caller got its response
    assert [(r.usage_status, r.input_tokens, r.cost_usd is None) for r in ctx.records] == [
        ("missing", 0, True),
        ("reported", 3, False),
    ]
    assert "reported a token count over 9007199254740991" in caplog.text
    with Ledger(ledger) as read:
        assert [r.input_tokens for r in read.records()] == [0, 3]
    assert [r.usage_status for r in JsonlSink.read(lines)] == ["missing", "reported"]


def test_unencodable_text_from_a_server_is_escaped_and_every_record_stored(
    server: FakeOpenAI, plain_client: openai.OpenAI, tmp_path: Path
) -> None:
    client = wrap_openai(plain_client)
    ledger, lines = tmp_path / "l.db", tmp_path / "l.jsonl"
    server.reply(model="gpt-4o-mini\ud800", service_tier="flex\udfff")
    server.reply(status=400, error={"message": "bad \udce9 request"})
    server.reply()
    with configure(sinks=[SQLiteSink(ledger), JsonlSink(lines)]), ai_usage_context("job") as ctx:
        client.chat.completions.create(model="gpt-4o-mini", messages=HELLO)
        with pytest.raises(openai.BadRequestError):
            client.chat.completions.create(model="gpt-4o-mini", messages=HELLO)
        client.chat.completions.create(model="gpt-4o-mini", messages=HELLO)
    first, failed, last = ctx.records
    assert (first.model, first.service_tier) == ("gpt-4o-mini\\ud800", "flex\\udfff")
    assert failed.error is not None
    assert "bad \\udce9 request" in failed.error.message
    with Ledger(ledger) as read:
        stored = list(read.records())
    assert [r.record_id for r in stored] == [first.record_id, failed.record_id, last.record_id]
    assert stored[0].model == "gpt-4o-mini\\ud800"
    assert [r.record_id for r in JsonlSink.read(lines)] == [r.record_id for r in stored]


def test_no_error_is_logged_for_a_sink_when_server_text_is_escaped(
    server: FakeOpenAI,
    plain_client: openai.OpenAI,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="aiusage")
    client = wrap_openai(plain_client)
    server.reply(model="\udc80")
    with configure(sinks=[JsonlSink(tmp_path / "x.jsonl")]), ai_usage_context("job"):
        client.chat.completions.create(model="gpt-4o-mini", messages=HELLO)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    (stored,) = list(JsonlSink.read(tmp_path / "x.jsonl"))
    assert stored.model == "\\udc80"
