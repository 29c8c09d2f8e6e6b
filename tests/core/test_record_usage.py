"""record_usage: validation at the boundary, and the record it returns."""

from __future__ import annotations

import pickle
from decimal import Decimal

import pytest

from aiusage_core import ConfigurationError, UsageRecord, ai_usage_context, record_usage


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"model": ""}, "model=...) must be a non-empty string"),
        ({"model": "m", "input_tokens": -1}, "input_tokens=-1) must not be negative"),
        ({"model": "m", "output_tokens": 1.5}, "output_tokens=...) must be a non-negative int"),
        ({"model": "m", "input_tokens": True}, "input_tokens=...) must be a non-negative int"),
        (
            {"model": "m", "input_tokens": 1, "cached_input_tokens": 2},
            "cached_input_tokens=2) exceeds input_tokens=1",
        ),
        (
            {"model": "m", "output_tokens": 1, "reasoning_tokens": 2},
            "reasoning_tokens=2) exceeds output_tokens=1",
        ),
        ({"model": "m", "cost_usd": "-1"}, "must be finite and non-negative"),
        ({"model": "m", "cost_usd": "NaN"}, "must be finite and non-negative"),
        ({"model": "m", "cost_usd": "abc"}, "is not a number"),
        ({"model": "m", "provider": ""}, "provider=...) must be a non-empty string"),
    ],
)
def test_bad_arguments_raise_a_value_error_naming_the_argument(
    kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigurationError, match=message.replace("(", r"\(").replace(")", r"\)")):
        record_usage(**kwargs)  # type: ignore[arg-type]


def test_configuration_error_is_a_value_error_with_the_value() -> None:
    with pytest.raises(ValueError, match="input_tokens") as raised:
        record_usage(model="m", input_tokens=-5)
    assert isinstance(raised.value, ConfigurationError)
    assert raised.value.name == "input_tokens"
    assert raised.value.value == -5


def test_record_fields_and_totals() -> None:
    with ai_usage_context("fields", job_id="j-1"):
        record = record_usage(
            model="o3",
            input_tokens=2000,
            cached_input_tokens=1000,
            output_tokens=500,
            reasoning_tokens=300,
            api="responses",
            metadata={"step": "ocr"},
        )
    assert record.total_tokens == 2500
    assert record.api == "responses"
    assert record.usage_status == "manual"
    assert record.metadata["step"] == "ocr"
    assert record.metadata["job_id"] == "j-1"
    assert record.context_path == ("fields",)
    # o3: $2/MTok input, $0.5 cached input, $8 output (reasoning billed as output).
    assert record.cost_usd == (1000 * Decimal(2) + 1000 * Decimal("0.5") + 500 * Decimal(8)) / (
        Decimal(1_000_000)
    )


def test_records_are_frozen_hold_no_text_and_round_trip() -> None:
    with ai_usage_context("rt", tags={"a": [1, 2]}):
        record = record_usage(model="gpt-4o-mini", input_tokens=3, output_tokens=4)
    with pytest.raises(AttributeError):
        record.model = "other"  # type: ignore[misc]
    with pytest.raises(TypeError):
        record.metadata["x"] = 1  # type: ignore[index]
    data = record.to_dict()
    assert data["cost_usd"] == str(record.cost_usd)
    assert data["metadata"]["tags"] == {"a": [1, 2]}
    assert UsageRecord.from_dict(data) == record
    assert pickle.loads(pickle.dumps(record)) == record
    assert not {"prompt", "messages", "content", "api_key"} & set(data)
