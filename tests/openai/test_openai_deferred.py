"""Deferred recording: a call queues its record, and every reader sees it at once anyway.

The record of an OpenAI call is made in a batch, later (see ``aiusage_core._delivery``).
These tests pin what must not change because of that: every way of looking at usage sees
each call as soon as it returned, in the order the calls ended, with the metadata and the
timestamp of that moment, and nothing is lost at interpreter exit.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable
from datetime import datetime, timezone
from decimal import Decimal

import openai
import pytest
from openai_testing import (
    CHAT_USAGE,
    EMBEDDING_COST,
    EMBEDDING_USAGE,
    GPT4O_MINI_COST,
    HELLO,
)

from aiusage_core import (
    ContextThreadPoolExecutor,
    MemorySink,
    UsageContext,
    UsageRecord,
    ai_usage_context,
    configure,
    flush,
    record_usage,
)
from aiusage_core._delivery import _later, add_listener, remove_listener
from pytest_aiusage.fake_openai import FakeOpenAI

Chat = Callable[[openai.OpenAI], None]


@pytest.fixture
def chat(server: FakeOpenAI) -> Callable[[openai.OpenAI], None]:
    """Make one chat call with the scripted usage priced at ``GPT4O_MINI_COST``."""

    def call(client: openai.OpenAI) -> None:
        server.reply(usage=CHAT_USAGE)
        client.chat.completions.create(model="gpt-4o-mini", messages=HELLO)

    return call


def test_every_reader_sees_a_call_as_soon_as_it_returns(
    chat: Chat, client: openai.OpenAI, usage: UsageContext
) -> None:
    chat(client)
    assert len(_later) == 1  # queued, not made yet
    assert usage.totals.calls == 1
    assert usage.totals.cost_usd == GPT4O_MINI_COST
    assert not _later
    chat(client)
    assert [r.input_tokens for r in usage.records] == [CHAT_USAGE["prompt_tokens"]] * 2
    assert usage.records_dropped == 0


def test_records_keep_the_order_the_calls_ended_in(
    chat: Chat, client: openai.OpenAI, server: FakeOpenAI, usage: UsageContext
) -> None:
    chat(client)
    record_usage(model="gpt-4o-mini", input_tokens=7)
    server.reply(usage=EMBEDDING_USAGE)
    client.embeddings.create(model="text-embedding-3-small", input="Hi")
    assert [(r.api, r.usage_status) for r in usage.records] == [
        ("chat", "reported"),
        ("chat", "manual"),
        ("embeddings", "reported"),
    ]
    assert usage.records[2].cost_usd == EMBEDDING_COST


def test_metadata_added_after_a_call_does_not_reach_its_record(
    chat: Chat, client: openai.OpenAI, usage: UsageContext
) -> None:
    chat(client)
    usage.add_metadata(step="second")
    chat(client)
    first, second = usage.records
    assert "step" not in first.metadata
    assert second.metadata["step"] == "second"


def test_the_timestamp_is_when_the_call_ended_not_when_it_was_counted(
    chat: Chat, client: openai.OpenAI, usage: UsageContext
) -> None:
    before = datetime.now(timezone.utc)
    chat(client)
    after = datetime.now(timezone.utc)
    time.sleep(0.2)
    (record,) = usage.records
    assert before <= record.timestamp <= after


def test_a_context_exit_delivers_the_calls_made_in_it(chat: Chat, client: openai.OpenAI) -> None:
    sink = MemorySink()
    with ai_usage_context("job", sinks=[sink]):
        chat(client)
        chat(client)
        assert len(sink) == 0
    assert [r.context_path for r in sink.records] == [("job",), ("job",)]


def test_flush_and_configure_make_the_queued_records_first(
    chat: Chat, client: openai.OpenAI
) -> None:
    sink = MemorySink()
    with configure(sinks=[sink]):
        chat(client)
        flush()
        assert [r.context_path for r in sink.records] == [()]
        chat(client)
        with configure(sinks=[]):  # the record of the call before goes to the sink before
            assert len(sink) == 2
            chat(client)
        assert len(sink) == 2


def test_a_call_made_outside_any_context_stays_outside_when_read_from_inside_one(
    chat: Chat,
    client: openai.OpenAI,
) -> None:
    sink = MemorySink()
    with configure(sinks=[sink]):
        chat(client)
        with ai_usage_context("later") as later:
            assert later.totals.calls == 0
        assert [r.context_path for r in sink.records] == [()]


def test_a_queue_of_settle_every_calls_is_made_by_the_call_that_fills_it(
    chat: Chat, client: openai.OpenAI, usage: UsageContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    import aiusage_core._delivery as delivery

    monkeypatch.setattr(delivery, "SETTLE_EVERY", 3)
    chat(client)
    chat(client)
    assert len(_later) == 2
    chat(client)
    assert not _later
    assert usage.totals.calls == 3


def test_with_a_record_listener_installed_every_call_is_made_at_once(
    chat: Chat, client: openai.OpenAI, usage: UsageContext
) -> None:
    seen: list[UsageRecord] = []
    add_listener(seen.append)
    try:
        chat(client)
        assert not _later
        assert [r.cost_usd for r in seen] == [GPT4O_MINI_COST]
    finally:
        remove_listener(seen.append)


def test_calls_in_other_threads_are_seen_by_a_reader_in_this_one(
    chat: Chat, client: openai.OpenAI, usage: UsageContext
) -> None:
    with ContextThreadPoolExecutor(max_workers=4) as pool:
        for future in [pool.submit(chat, client) for _ in range(4)]:
            future.result()
    assert usage.totals.calls == 4
    assert usage.totals.cost_usd == GPT4O_MINI_COST * 4


def test_calls_outside_contexts_reach_the_sinks_at_interpreter_exit(
    pytester: pytest.Pytester, server: FakeOpenAI
) -> None:
    script = pytester.makepyfile(
        caller="""
        import json, sys
        import openai
        from aiusage_core import configure, wrap_openai

        class FileSink:
            def write(self, records):
                with open(sys.argv[1], "a") as f:
                    for r in records:
                        f.write(json.dumps(r.to_dict()) + "\\n")
            def close(self):
                pass

        configure(sinks=[FileSink()])
        client = wrap_openai(openai.OpenAI(api_key="sk-test", base_url=sys.argv[2], max_retries=0))
        for _ in range(3):
            client.chat.completions.create(model="gpt-4o-mini", messages=[])
        """
    )
    for _ in range(3):
        server.reply(usage=CHAT_USAGE)
    out = pytester.path / "records.jsonl"
    result = pytester.run(sys.executable, str(script), str(out), server.url)
    assert result.ret == 0, result.stderr.str()
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(r["api"], Decimal(r["cost_usd"])) for r in rows] == [("chat", GPT4O_MINI_COST)] * 3


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_calls_that_ended_before_a_fork_are_counted_before_it(
    chat: Chat, client: openai.OpenAI, usage: UsageContext
) -> None:
    chat(client)
    assert len(_later) == 1
    pid = os.fork()
    if pid == 0:  # the child: the call is counted already, and nothing is left to make
        os._exit(0 if not _later and usage.totals.calls == 1 else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert not _later
    assert usage.totals.calls == 1


def test_the_first_record_of_a_process_may_come_from_a_finalizer_holding_any_lock(
    pytester: pytest.Pytester, server: FakeOpenAI
) -> None:
    # The exit hook is registered with the first record; a finalizer may run while this
    # thread holds the outbox lock, so registering must not take it.
    script = pytester.makepyfile(
        finalizer="""
        import gc, sys
        import openai
        from aiusage_core import ai_usage_context, wrap_openai
        from aiusage_core._delivery import _outbox

        client = wrap_openai(openai.OpenAI(api_key="sk-test", base_url=sys.argv[1], max_retries=0))
        with ai_usage_context("job") as job:
            stream = client.chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": "Hi"}], stream=True
            )
            assert not _outbox.atexit_registered
            del stream
            with _outbox.lock:
                gc.collect()
            print("recorded:", [r.usage_status for r in job.records])
        """
    )
    result = pytester.run(sys.executable, str(script), server.url, timeout=60)
    assert result.ret == 0, result.stderr.str()
    result.stdout.fnmatch_lines(["recorded: ['missing']"])
