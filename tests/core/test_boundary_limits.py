"""What a caller passes is checked where it enters, so every accepted record can be stored
by every sink (counts up to MAX_COUNT, encodable text, bounded metadata)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from aiusage_core import (
    ConfigurationError,
    ContextError,
    JsonlSink,
    Ledger,
    MetadataError,
    SQLiteSink,
    ai_usage_context,
    configure,
    record_usage,
)
from aiusage_core._limits import MAX_COUNT, MAX_METADATA_DEPTH, safe_text


@pytest.mark.parametrize(
    "name", ["input_tokens", "output_tokens", "cached_input_tokens", "reasoning_tokens"]
)
@pytest.mark.parametrize("value", [MAX_COUNT + 1, 2**63, 10**19])
def test_a_count_over_the_maximum_is_refused_naming_it(name: str, value: int) -> None:
    counts: dict[str, Any] = {"input_tokens": 0, "output_tokens": 0}
    if name == "cached_input_tokens":
        counts["input_tokens"] = MAX_COUNT
    if name == "reasoning_tokens":
        counts["output_tokens"] = MAX_COUNT
    counts[name] = value
    with pytest.raises(ConfigurationError, match=f"record_usage\\({name}={value}\\) exceeds") as e:
        record_usage(model="gpt-4o-mini", **counts)
    assert e.value.name == name
    assert e.value.value == value


def test_the_largest_count_is_stored_exactly_by_sqlite_and_jsonl(tmp_path: Path) -> None:
    ledger, lines = tmp_path / "l.db", tmp_path / "l.jsonl"
    with configure(sinks=[SQLiteSink(ledger), JsonlSink(lines)]), ai_usage_context("big"):
        record_usage(model="gpt-4o-mini", input_tokens=MAX_COUNT, output_tokens=MAX_COUNT)
    with Ledger(ledger) as read:
        (stored,) = list(read.records())
        assert read.report(["model"]).totals.input_tokens == MAX_COUNT
    assert stored.input_tokens == stored.output_tokens == MAX_COUNT
    (line,) = list(JsonlSink.read(lines))
    assert line.total_tokens == 2 * MAX_COUNT


@pytest.mark.parametrize(
    ("field", "value"),
    [("model", "gpt\ud800"), ("provider", "open\udfffai"), ("api", "\ud83dchat")],
)
def test_text_with_a_lone_surrogate_is_refused_by_record_usage(field: str, value: str) -> None:
    arguments = {"model": "gpt-4o-mini", field: value}
    with pytest.raises(ConfigurationError, match="lone surrogate") as e:
        record_usage(**arguments)
    assert e.value.name == field


def test_an_error_text_with_a_lone_surrogate_is_refused_but_an_exception_is_made_safe(
    tmp_path: Path,
) -> None:
    with pytest.raises(ConfigurationError, match="lone surrogate"):
        record_usage(model="gpt-4o-mini", error="bad \ud800")
    lines = tmp_path / "e.jsonl"
    with configure(sinks=[JsonlSink(lines)]), ai_usage_context("job"):
        record_usage(model="gpt-4o-mini", error=OSError("no file b'\\xff' -> \udcff"))
    (stored,) = list(JsonlSink.read(lines))
    assert stored.error is not None
    assert stored.error.message == "no file b'\\xff' -> \\udcff"


def test_a_context_name_with_a_lone_surrogate_is_refused() -> None:
    with pytest.raises(ContextError, match="lone surrogate"):
        ai_usage_context("job\ud800")
    with pytest.raises(ContextError, match="lone surrogate"):
        ai_usage_context("job\ud800", team="ocr")


@pytest.mark.parametrize(
    ("metadata", "key"),
    [
        ({"note": "caf\udce9"}, "note"),
        ({"k\ud800": 1}, "k\ud800"),
        ({"outer": {"inner": ["ok", "\udfff"]}}, "outer.inner[1]"),
    ],
)
def test_metadata_with_a_lone_surrogate_is_refused_naming_the_key(
    metadata: dict[str, Any], key: str
) -> None:
    with pytest.raises(MetadataError, match="lone surrogate") as e:
        record_usage(model="gpt-4o-mini", metadata=metadata)
    assert e.value.key == key
    with pytest.raises(MetadataError, match="lone surrogate"):
        ai_usage_context("job", **metadata)


def test_an_integer_too_long_to_write_is_refused_in_metadata() -> None:
    limit = sys.get_int_max_str_digits()
    assert limit in (0, 4300)  # the default of CPython >= 3.11 (0: no limit set)
    with pytest.raises(MetadataError, match="more than 4300 digits") as e:
        record_usage(model="gpt-4o-mini", metadata={"n": 10**4300})
    assert e.value.key == "n"
    with pytest.raises(MetadataError, match="more than 4300 digits"):
        ai_usage_context("job", ids=[1, -(10**5000)])


def test_the_longest_integer_allowed_is_stored(tmp_path: Path) -> None:
    lines = tmp_path / "n.jsonl"
    longest = 10**4300 - 1
    with configure(sinks=[JsonlSink(lines)]), ai_usage_context("job", n=longest):
        record_usage(model="gpt-4o-mini")
    (stored,) = list(JsonlSink.read(lines))
    assert stored.metadata["n"] == longest


def test_metadata_nested_500_deep_raises_metadata_error_not_recursion_error() -> None:
    deep: dict[str, Any] = {}
    node = deep
    for _ in range(500):
        node["k"] = {}
        node = node["k"]
    with pytest.raises(MetadataError, match=f"nests deeper than {MAX_METADATA_DEPTH}") as e:
        record_usage(model="gpt-4o-mini", metadata=deep)
    assert e.value.key == ".".join(["k"] * MAX_METADATA_DEPTH)
    deep_list: list[Any] = []
    items = deep_list
    for _ in range(500):
        items.append([])
        items = items[0]
    with pytest.raises(MetadataError, match="nests deeper"):
        ai_usage_context("job", tags=deep_list)


def test_metadata_as_deep_as_allowed_is_accepted(tmp_path: Path) -> None:
    deep: dict[str, Any] = {"leaf": 1}
    for _ in range(MAX_METADATA_DEPTH - 1):
        deep = {"k": deep}
    lines = tmp_path / "d.jsonl"
    with configure(sinks=[JsonlSink(lines)]), ai_usage_context("job"):
        record_usage(model="gpt-4o-mini", metadata=deep)
    (stored,) = list(JsonlSink.read(lines))
    node: Any = stored.metadata
    for _ in range(MAX_METADATA_DEPTH - 1):
        node = node["k"]
    assert node == {"leaf": 1}


def test_metadata_that_refers_to_itself_raises_metadata_error() -> None:
    loop: dict[str, Any] = {"name": "x"}
    loop["self"] = loop
    with pytest.raises(MetadataError, match="contains it") as e:
        record_usage(model="gpt-4o-mini", metadata=loop)
    assert e.value.key == "self"
    items: list[Any] = [1]
    items.append({"back": items})
    with pytest.raises(MetadataError, match="contains it") as e:
        ai_usage_context("job", items=items)
    assert e.value.key == "items[1].back"


def test_a_value_shared_by_two_keys_is_not_a_loop() -> None:
    shared = {"a": 1}
    with ai_usage_context("job", first=shared, second=[shared, shared]) as ctx:
        pass
    assert ctx.metadata["second"][1]["a"] == 1


def test_safe_text_escapes_only_lone_surrogates() -> None:
    assert safe_text("plain") == "plain"
    assert safe_text("café ☕") == "café ☕"
    assert safe_text("a\ud800b\udfff") == "a\\ud800b\\udfff"
    assert safe_text("a\ud800b").encode("utf-8") == b"a\\ud800b"
