"""Constants and helpers shared by the OpenAI integration tests (imported by name: the
folder has no ``__init__.py``, so pytest puts it on ``sys.path``)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import openai

from aiusage_core import UsageContext, UsageRecord
from pytest_aiusage.fake_openai import FakeOpenAI

API_KEY = "sk-test-aiusage-0123456789"

HELLO: list[Any] = [{"role": "user", "content": "Hello, world!"}]

# Scripted usage, priced by hand from OpenAI's published gpt-4o-mini rates (as genai-prices
# 0.2.3 carries them): $0.15/MTok input, $0.075/MTok cached input, $0.60/MTok output.
CHAT_USAGE: dict[str, Any] = {
    "prompt_tokens": 1000,
    "completion_tokens": 100,
    "prompt_tokens_details": {"cached_tokens": 200, "audio_tokens": 0},
    "completion_tokens_details": {"reasoning_tokens": 40, "audio_tokens": 0},
}
RESPONSES_USAGE: dict[str, Any] = {
    "input_tokens": 1000,
    "input_tokens_details": {"cached_tokens": 200, "cache_write_tokens": 0},
    "output_tokens": 100,
    "output_tokens_details": {"reasoning_tokens": 40},
}
# (800 uncached * 0.15 + 200 cached * 0.075 + 100 output * 0.60) / 1e6; reasoning tokens are
# part of the output tokens and billed at the output rate.
GPT4O_MINI_COST = Decimal("0.000195")

# text-embedding-3-small: $0.02/MTok input.
EMBEDDING_USAGE: dict[str, Any] = {"prompt_tokens": 5000}
EMBEDDING_COST = Decimal("0.0001")  # 5000 * 0.02 / 1e6

GPT4O_MINI_SNAPSHOT = "gpt-4o-mini-2024-07-18"


def sdk_client(server: FakeOpenAI, **kwargs: Any) -> openai.OpenAI:
    """A real sync SDK client talking to ``server``."""
    return openai.OpenAI(api_key=API_KEY, base_url=server.url, max_retries=0, **kwargs)


def async_sdk_client(server: FakeOpenAI, **kwargs: Any) -> openai.AsyncOpenAI:
    """A real async SDK client talking to ``server`` (make it inside the event loop)."""
    return openai.AsyncOpenAI(api_key=API_KEY, base_url=server.url, max_retries=0, **kwargs)


def single(ctx: UsageContext) -> UsageRecord:
    """The one record of ``ctx`` (fails when there are none or several)."""
    records = ctx.records
    assert len(records) == 1, records
    return records[0]
