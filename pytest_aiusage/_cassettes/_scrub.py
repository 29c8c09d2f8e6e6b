"""Taking secrets out of cassette interactions: the last step before any cassette is written.

What is replaced by :data:`REDACTED`:

* request and response headers with a secret name (:func:`is_secret_name`: ``authorization``
  (OpenAI's key, and Anthropic's from SDK 2.x, as ``Bearer ...``), ``x-api-key`` (Anthropic's
  key from older clients), ``api-key``, ``openai-organization``, ``openai-project``,
  ``anthropic-organization-id``, ``cookie``, ``set-cookie``, and any name with a word like
  ``key``, ``token`` or ``secret`` in it);
* query parameters with a secret name (``api-key``, ``key``, ``access_token``, ...) and the
  password of a ``user:password@`` URL;
* anywhere at all (headers, URL, bodies, cassette metadata): the values known to be secret
  (the keys in the environment, the keys of the plugin's client fixtures, and every value
  found in a secret header or query parameter of the cassette itself), and anything that
  looks like an OpenAI or Anthropic key (:data:`SECRET_PATTERN`).

The SDKs' ``x-stainless-*`` request headers (OS, architecture, Python and SDK versions, retry
count) are dropped: they differ from machine to machine, so they would only make cassette
diffs noisy, and matching never looks at headers. Compressed response bodies are stored
decoded, so that they can be searched.

vcrpy is imported only by the functions that build its objects.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from ._state import MIN_SECRET_LENGTH

__all__ = [
    "REDACTED",
    "SECRET_HEADERS",
    "SECRET_PATTERN",
    "VOLATILE_HEADER_PREFIX",
    "Scrubber",
    "is_secret_name",
]

REDACTED: Final = "<REDACTED>"
"""What every secret is replaced with."""

SECRET_HEADERS: Final = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "api-key",
        "x-api-key",
        "openai-organization",
        "openai-project",
        "anthropic-organization-id",
        "cookie",
        "set-cookie",
        "ocp-apim-subscription-key",
    }
)
"""Header names that are always secret (case-insensitive)."""

_SECRET_WORDS: Final = frozenset(
    {
        "apikey",
        "auth",
        "authorization",
        "cookie",
        "credential",
        "credentials",
        "key",
        "passwd",
        "password",
        "secret",
        "sig",
        "signature",
        "token",
    }
)

SECRET_PATTERN: Final = re.compile(r"(?<![A-Za-z0-9_-])sk-[A-Za-z0-9_-]{16,}")
"""Anything shaped like an OpenAI or Anthropic key (``sk-...``, ``sk-proj-...``,
``sk-svcacct-...``, ``sk-ant-api03-...``, ``sk-ant-admin01-...``)."""

VOLATILE_HEADER_PREFIX: Final = "x-stainless-"
"""Request headers the Stainless SDKs (``openai``, ``anthropic``) send that describe the
machine; dropped from cassettes."""

_SPLIT_WORDS: Final = re.compile(r"[-_.\s]+")
_AUTH_SCHEME: Final = re.compile(r"^\s*[A-Za-z][A-Za-z0-9-]*\s+(\S+)\s*$")


def is_secret_name(name: str) -> bool:
    """Whether a header or query parameter called ``name`` holds a secret.

    ``api-key``, ``access_token`` and ``X-Auth-Token`` do; ``api-version``, ``max_tokens``
    and ``x-ratelimit-remaining-tokens`` do not (words are compared whole).
    """
    lowered = name.lower()
    if lowered in SECRET_HEADERS:
        return True
    return any(word in _SECRET_WORDS for word in _SPLIT_WORDS.split(lowered))


def _candidates(value: str) -> Iterable[str]:
    """The secret parts of a secret header's value: itself, the credentials after an auth
    scheme (``Bearer sk-...``), and each cookie value."""
    yield value
    scheme = _AUTH_SCHEME.match(value)
    if scheme:
        yield scheme.group(1)
    for pair in value.split(";"):
        _, equals, cookie = pair.partition("=")
        if equals:
            yield cookie.strip()


class Scrubber:
    """Replaces secrets in one cassette (built fresh for each write)."""

    def __init__(
        self, secrets: Iterable[str], *, relocate: Callable[[str], str] | None = None
    ) -> None:
        self._relocate = relocate
        """Maps a request's URL to the one to write (see :meth:`request`)."""
        self._secrets: set[str] = set()
        for secret in secrets:
            self.learn(secret)

    def learn(self, value: str) -> None:
        """Also replace ``value`` (and the credentials inside it) wherever it appears."""
        for candidate in _candidates(value):
            if len(candidate) >= MIN_SECRET_LENGTH and REDACTED not in candidate:
                self._secrets.add(candidate)

    def _ordered(self) -> list[str]:
        # Longest first, so that a key inside a longer secret does not leave a tail behind.
        return sorted(self._secrets, key=len, reverse=True)

    # -- text ---------------------------------------------------------------------------

    def text(self, value: str) -> str:
        """``value`` with every known secret and key-shaped string replaced."""
        for secret in self._ordered():
            if secret in value:
                value = value.replace(secret, REDACTED)
        return SECRET_PATTERN.sub(REDACTED, value)

    def data(self, value: bytes) -> bytes:
        """:meth:`text` for bytes (secrets are searched as UTF-8)."""
        for secret in self._ordered():
            encoded = secret.encode()
            if encoded in value:
                value = value.replace(encoded, REDACTED.encode())
        if b"sk-" not in value:
            return value
        try:
            return self.text(value.decode()).encode()
        except UnicodeDecodeError:
            pattern = re.compile(SECRET_PATTERN.pattern.encode())
            return pattern.sub(REDACTED.encode(), value)

    def anything(self, value: Any) -> Any:
        """Strings and bytes scrubbed inside any JSON-like structure (keys too)."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, bytes | bytearray):
            return self.data(bytes(value))
        if isinstance(value, Mapping):
            return {self.anything(k): self.anything(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return type(value)(self.anything(item) for item in value)
        return value

    def url(self, uri: str) -> str:
        """``uri`` with secret query parameters and any password replaced, then
        :meth:`text`. The query is re-encoded only when a parameter was replaced."""
        parts = urlsplit(uri)
        netloc = parts.netloc
        if "@" in netloc:
            userinfo, _, host = netloc.rpartition("@")
            user, colon, _password = userinfo.partition(":")
            netloc = f"{user}:REDACTED@{host}" if colon else f"REDACTED@{host}"
        query = parts.query
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(is_secret_name(name) for name, _ in pairs):
            query = urlencode(
                [(name, REDACTED if is_secret_name(name) else value) for name, value in pairs]
            )
        return self.text(urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment)))

    # -- learning -----------------------------------------------------------------------

    def learn_request(self, request: Any) -> None:
        """Learn the values of the request's secret headers and query parameters."""
        for name, value in request.headers.items():
            if is_secret_name(name):
                self.learn(_as_text(value))
        for name, value in parse_qsl(urlsplit(request.uri).query, keep_blank_values=True):
            if is_secret_name(name):
                self.learn(value)
        password = urlsplit(request.uri).password
        if password:
            self.learn(password)

    def learn_response(self, response: Mapping[str, Any]) -> None:
        """Learn the values of the response's secret headers."""
        for name, values in (response.get("headers") or {}).items():
            if is_secret_name(name):
                for value in values if isinstance(values, list) else [values]:
                    self.learn(_as_text(value))

    # -- interactions -------------------------------------------------------------------

    def request(self, request: Any) -> Any:
        """A scrubbed copy of a vcrpy ``Request`` (``x-stainless-*`` headers dropped), at the
        URL ``relocate`` gives (its ``host`` header following)."""
        from vcr.request import Request
        from vcr.util import read_body

        uri = request.uri if self._relocate is None else self._relocate(request.uri)
        headers: dict[str, str] = {}
        for name, value in request.headers.items():
            if name.lower().startswith(VOLATILE_HEADER_PREFIX):
                continue
            if name.lower() == "host" and uri != request.uri:
                value = urlsplit(uri).netloc
            headers[name] = REDACTED if is_secret_name(name) else self.text(_as_text(value))
        body = read_body(request)
        if body is not None:
            body = self.anything(body)
        return Request(request.method, self.url(uri), body, headers)

    def response(self, response: Mapping[str, Any]) -> dict[str, Any]:
        """A scrubbed copy of a vcrpy response dict, its body decoded if it was compressed."""
        from vcr.filters import decode_response

        decoded: dict[str, Any] = (
            decode_response(dict(response)) if "headers" in response else dict(response)
        )
        headers: dict[str, list[Any]] = {}
        for name, values in (decoded.get("headers") or {}).items():
            listed = values if isinstance(values, list) else [values]
            if is_secret_name(name):
                headers[name] = [REDACTED]
            else:
                headers[name] = [self.text(_as_text(value)) for value in listed]
        body = dict(decoded.get("body") or {})
        before = body.get("string")
        after = self.anything(before)
        if after != before:
            body["string"] = after
            for name in headers:
                if name.lower() == "content-length" and isinstance(after, bytes | str):
                    size = len(after.encode() if isinstance(after, str) else after)
                    headers[name] = [str(size)]
        scrubbed = {key: value for key, value in decoded.items() if key not in ("headers", "body")}
        scrubbed = self.anything(scrubbed)
        scrubbed["headers"] = headers
        scrubbed["body"] = body
        return scrubbed  # type: ignore[no-any-return]

    def cassette(self, cassette_dict: Mapping[str, Any]) -> dict[str, Any]:
        """A scrubbed copy of what vcrpy hands a persister (``requests``, ``responses`` and
        maybe ``metadata``). Secrets found anywhere in it are replaced everywhere in it."""
        requests = list(cassette_dict.get("requests", ()))
        responses = list(cassette_dict.get("responses", ()))
        for request in requests:
            self.learn_request(request)
        for response in responses:
            self.learn_response(response)
        scrubbed = {
            key: self.anything(value)
            for key, value in cassette_dict.items()
            if key not in ("requests", "responses")
        }
        scrubbed["requests"] = [self.request(request) for request in requests]
        scrubbed["responses"] = [self.response(response) for response in responses]
        return scrubbed


def _as_text(value: Any) -> str:
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("utf-8", "replace")
    if isinstance(value, list | tuple):
        return ", ".join(_as_text(item) for item in value)
    return str(value)
