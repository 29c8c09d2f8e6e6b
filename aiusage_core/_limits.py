"""What every sink can store: the limits a record is checked against where it enters.

A record that aiusage accepts must be writable by every sink (SQLite, PostgreSQL, JSON
Lines, OpenTelemetry, the spool), or one record would make a whole batch fail. So values are
decided on at the boundary, once:

* token counts are ``int``\\s from 0 to :data:`MAX_COUNT`;
* text is encodable as UTF-8 (no lone surrogates such as ``"\\ud800"``);
* metadata nests at most :data:`MAX_METADATA_DEPTH` levels, never refers to itself, and
  holds no integer longer than :data:`MAX_INT_DIGITS` digits.

What the *caller* passes (``record_usage`` arguments, context names, metadata) is rejected
with a :class:`~aiusage_core.ConfigurationError` or :class:`~aiusage_core.MetadataError`.
What a *server* sends must never raise into the caller: a count over the maximum makes the
call's usage ``missing`` (no cost, logged), and text is made encodable with
:func:`safe_text`.
"""

from __future__ import annotations

__all__ = [
    "MAX_COUNT",
    "MAX_INT_DIGITS",
    "MAX_METADATA_DEPTH",
    "encodable",
    "int_too_long",
    "safe_text",
]

MAX_COUNT = 2**53 - 1
"""The largest token count a record may carry: 9,007,199,254,740,991.

It fits a signed 64-bit integer (SQLite ``INTEGER``, PostgreSQL ``BIGINT``, OpenTelemetry
attributes) with room for sums of a thousand records, and a JSON reader that parses numbers
as doubles (JavaScript, many log pipelines) still reads it exactly.
"""

MAX_METADATA_DEPTH = 64
"""How many levels of mappings and lists metadata may nest (the top-level mapping is 1)."""

MAX_INT_DIGITS = 4300
"""The most decimal digits an integer in metadata may have (CPython's default limit on
converting an ``int`` to text, past which JSON encoding fails)."""

_INT_LIMIT: int = 10**MAX_INT_DIGITS


def int_too_long(value: int) -> bool:
    """Whether ``value`` has more than :data:`MAX_INT_DIGITS` digits."""
    return value <= -_INT_LIMIT or value >= _INT_LIMIT


def encodable(text: str) -> bool:
    """Whether ``text`` can be encoded as UTF-8 (it holds no lone surrogate)."""
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def safe_text(text: str) -> str:
    """``text`` with each lone surrogate written as its escape (``"\\ud800"`` becomes the six
    characters ``\\ud800``), so it can be encoded; ``text`` itself when it can be."""
    if encodable(text):
        return text
    return text.encode("utf-8", "backslashreplace").decode("utf-8")
