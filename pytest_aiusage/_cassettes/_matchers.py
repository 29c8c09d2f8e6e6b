"""How a request is matched against a cassette, and how one is described in messages.

The plugin registers these matchers on every pytest-recording VCR, and makes
:data:`OPENAI_MATCH_ON` the default ``match_on`` of the tests that opt in (the plugin's client
fixtures, the ``openai_cassette`` marker, the ``aiusage_openai_matching`` ini switch):

* ``method``: vcrpy's own;
* ``openai_path``: the URL path only. Scheme, host and port are left out, so a cassette
  recorded against the fake server on ``127.0.0.1:<any port>`` or a proxy replays against
  ``api.openai.com`` and the other way round;
* ``openai_query``: the query parameters in any order, the values of secret ones
  (``api-key``, ...) ignored (they are scrubbed from cassettes);
* ``openai_body``: JSON bodies compared as parsed JSON (key order and whitespace do not
  matter; ``true`` is not ``1``), key-shaped strings ignored; multipart bodies compared with
  their random boundary taken out; other bodies byte for byte.

Matchers take vcrpy requests (duck-typed: ``method``, ``uri``, ``path``, ``body``,
``headers``) and raise ``AssertionError`` saying how the two differ, as vcrpy expects. This
module does not import vcrpy.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any, Final
from urllib.parse import parse_qsl, urlsplit

from ._scrub import REDACTED, SECRET_PATTERN, is_secret_name

__all__ = [
    "OPENAI_MATCHERS",
    "OPENAI_MATCH_ON",
    "describe_request",
    "openai_body",
    "openai_path",
    "openai_query",
    "openai_vcr_config",
]

OPENAI_MATCH_ON: Final = ("method", "openai_path", "openai_query", "openai_body")
"""The plugin's default ``match_on``: method, path, query and body; never host or port."""

_SUMMARY_LENGTH: Final = 40
_DIFF_VALUE_LENGTH: Final = 60
_DIFF_CONTEXT: Final = 20
"""A long value is shown from this many characters before its first difference."""
_BOUNDARY: Final = re.compile(r'boundary="?([^";]+)"?', re.IGNORECASE)


def openai_path(r1: Any, r2: Any) -> None:
    """Same URL path (an empty path is ``/``)."""
    p1, p2 = _path(r1), _path(r2)
    if p1 != p2:
        raise AssertionError(f"{p1} != {p2}")


def openai_query(r1: Any, r2: Any) -> None:
    """Same query parameters in any order; values of secret parameters ignored."""
    q1, q2 = _query(r1), _query(r2)
    if q1 != q2:
        raise AssertionError(f"{q1} != {q2}")


def openai_body(r1: Any, r2: Any) -> None:
    """Same body: parsed JSON equal, or the same bytes."""
    kind1, b1 = _canonical_body(r1)
    kind2, b2 = _canonical_body(r2)
    if (kind1, b1) == (kind2, b2):
        return
    if kind1 == kind2 == "json":
        raise AssertionError(_first_difference(json.loads(b1), json.loads(b2), "$"))
    sizes = f"{_size(b1)} in this request, {_size(b2)} recorded"
    try:
        t1, t2 = b1.decode(), b2.decode()
    except UnicodeDecodeError:
        raise AssertionError(f"the bodies differ ({sizes})") from None
    raise AssertionError(f"the bodies differ ({sizes}): {_compare(t1, t2, _one_line)}")


OPENAI_MATCHERS: Final = {
    "openai_path": openai_path,
    "openai_query": openai_query,
    "openai_body": openai_body,
}
"""The matchers the plugin registers on every VCR, by name."""


def openai_vcr_config() -> dict[str, Any]:
    """The plugin's OpenAI matching as ``vcr_config`` keys (a new dict each call):
    ``{"match_on": OPENAI_MATCH_ON}``.

    The plugin applies it below your own ``vcr_config`` to the tests that opt in (its client
    fixtures, ``@pytest.mark.openai_cassette``, the ``aiusage_openai_matching`` ini switch).
    Use this to build on it, or to match a suite the OpenAI way from its own configuration::

        @pytest.fixture(scope="module")
        def vcr_config():
            config = pytest_aiusage.openai_vcr_config()
            config["match_on"] = (*config["match_on"], "my_matcher")
            return config

    No filter is needed for secrets: every cassette is scrubbed when it is written.
    """
    return {"match_on": OPENAI_MATCH_ON}


# -- describing a request -----------------------------------------------------------------


def describe_request(request: Any) -> str:
    """``POST /v1/chat/completions (model=gpt-4o-mini, "Hello, world!")``: method, path and
    query, and what the JSON body asks for (its model and the start of its text)."""
    parts = urlsplit(str(request.uri))
    where = parts.path or "/"
    if parts.query:
        pairs = parse_qsl(parts.query, keep_blank_values=True)
        where += "?" + "&".join(
            f"{name}={REDACTED if is_secret_name(name) else value}" for name, value in pairs
        )
    summary = _body_summary(_body_bytes(request))
    return f"{request.method} {where}" + (f" ({summary})" if summary else "")


def _body_summary(body: bytes | None) -> str:
    if not body:
        return ""
    try:
        data = json.loads(body)
    except ValueError:
        return f"{len(body)} bytes"
    if not isinstance(data, dict):
        return _short(json.dumps(data))
    bits = []
    if isinstance(data.get("model"), str):
        bits.append(f"model={data['model']}")
    if data.get("stream") is True:
        bits.append("stream")
    for key in ("messages", "input", "prompt"):
        text = _last_text(data.get(key))
        if text:
            # Messages end up in CI logs: never print anything shaped like a key.
            text = SECRET_PATTERN.sub(REDACTED, " ".join(text.split()))
            bits.append(json.dumps(_short(text), ensure_ascii=False))
            break
    return ", ".join(bits)


def _last_text(value: object) -> str | None:
    """The text a chat, responses or embeddings request ends with."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        return _last_text(value.get("content", value.get("text")))
    if isinstance(value, list):
        for item in reversed(value):
            text = _last_text(item)
            if text:
                return text
    return None


def _short(text: str) -> str:
    return text if len(text) <= _SUMMARY_LENGTH else text[:_SUMMARY_LENGTH].rstrip() + "..."


# -- helpers ------------------------------------------------------------------------------


def _path(request: Any) -> str:
    return urlsplit(str(request.uri)).path or "/"


def _query(request: Any) -> list[tuple[str, str]]:
    pairs = parse_qsl(urlsplit(str(request.uri)).query, keep_blank_values=True)
    return sorted((name, REDACTED if is_secret_name(name) else value) for name, value in pairs)


def _body_bytes(request: Any) -> bytes | None:
    body = request.body
    if hasattr(body, "read"):
        body = body.read()
    elif body is not None and not isinstance(body, bytes | bytearray | str | dict):
        body = b"".join(c.encode() if isinstance(c, str) else bytes(c) for c in body)
    if isinstance(body, dict):
        body = json.dumps(body).encode()
    if isinstance(body, str):
        body = body.encode()
    return bytes(body) if body is not None else None


def _header(request: Any, name: str) -> str:
    for key, value in request.headers.items():
        if key.lower() == name:
            return value.decode() if isinstance(value, bytes) else str(value)
    return ""


def _canonical_body(request: Any) -> tuple[str, bytes]:
    """``("json", canonical text)`` for a JSON body, else ``("raw", bytes)``."""
    body = _body_bytes(request) or b""
    boundary = _BOUNDARY.search(_header(request, "content-type"))
    if boundary and _header(request, "content-type").lower().startswith("multipart/"):
        # httpx draws a random boundary for each multipart request.
        return "raw", body.replace(boundary.group(1).encode(), b"BOUNDARY")
    if body[:1] in (b"{", b"["):
        try:
            data = json.loads(body)
        except ValueError:
            pass
        else:
            text = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
            # Key-shaped strings are scrubbed from recorded bodies: never a reason to differ.
            return "json", SECRET_PATTERN.sub(REDACTED, text).encode()
    return "raw", body


def _first_difference(a: Any, b: Any, where: str) -> str:
    """Where two parsed JSON values first differ: ``$.messages[0].content: 'a' != 'b'``."""
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            if key not in b:
                return f"{where}.{key}: only in this request"
            if key not in a:
                return f"{where}.{key}: only in the recorded request"
            if _dump(a[key]) != _dump(b[key]):
                return _first_difference(a[key], b[key], f"{where}.{key}")
    elif isinstance(a, list) and isinstance(b, list):
        for index, (x, y) in enumerate(zip(a, b, strict=False)):
            if _dump(x) != _dump(y):
                return _first_difference(x, y, f"{where}[{index}]")
        if len(a) != len(b):
            return f"{where}: {len(a)} items in this request, {len(b)} recorded"
    return f"{where}: {_compare(_dump(a), _dump(b))}"


def _dump(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def _compare(a: str, b: str, show: Callable[[str], str] = str) -> str:
    """``a != b``, each cut to a window around their first difference when either is long::

    ..."the total is 12.50 EUR, paid by card"... != ..."the total is 12.60 EUR, ...
    (first difference at character 412)
    """
    if len(a) <= _DIFF_VALUE_LENGTH and len(b) <= _DIFF_VALUE_LENGTH:
        return f"{show(a)} != {show(b)}"
    first = next(
        (i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b))
    )
    start = max(0, first - _DIFF_CONTEXT)
    return (
        f"{_window(a, start, show)} != {_window(b, start, show)} "
        f"(first difference at character {first})"
    )


def _window(text: str, start: int, show: Callable[[str], str]) -> str:
    end = start + _DIFF_VALUE_LENGTH
    return ("..." if start else "") + show(text[start:end]) + ("..." if end < len(text) else "")


def _one_line(text: str) -> str:
    """``text`` on one line: newlines, tabs and quotes escaped as in JSON."""
    return json.dumps(text, ensure_ascii=False)[1:-1]


def _size(body: bytes) -> str:
    return f"{len(body)} bytes"
