"""The providers cassettes know: which one a recorded request went to (for replay failures
and the report), and how the client fixtures reach it (key and base URL variables, the
marker of its fake server).

Told by the request's host when it is a provider's own (``api.openai.com``,
``api.anthropic.com``), else by the shape of its path (Anthropic's ``/v1/messages``,
OpenAI's ``/chat/completions``, ...), which survives proxies and the loopback fake server.
A request neither names is no known provider's, and messages stay neutral.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlsplit

__all__ = ["ANTHROPIC", "OPENAI", "PROVIDERS", "CassetteProvider", "provider_of", "title"]


@dataclass(frozen=True, slots=True)
class CassetteProvider:
    """A provider as cassette messages name it."""

    name: str
    """Its name in messages (``"OpenAI"``)."""
    key_variable: str
    """The environment variable its SDK reads the key from."""
    key_shape: str
    """What a key looks like, in a command line shown to the user (``"sk-..."``)."""
    base_url_variable: str
    """The environment variable its SDK reads the base URL from."""
    fake_marker: str
    """The marker pointing its client fixtures at its fake server (also that fixture's name)."""
    hosts: tuple[str, ...]
    """Its API hosts; a name starting with a dot matches every host under it."""
    paths: tuple[str, ...]
    """Path fragments only its wire format has (matched anywhere in the path)."""

    def serves(self, host: str) -> bool:
        """Whether ``host`` is one of :attr:`hosts`."""
        return any(
            host.endswith(known) if known.startswith(".") else host == known for known in self.hosts
        )

    def speaks(self, path: str) -> bool:
        """Whether ``path`` has the shape of one of its endpoints."""
        return any(fragment in path for fragment in self.paths)


ANTHROPIC: Final = CassetteProvider(
    name="Anthropic",
    key_variable="ANTHROPIC_API_KEY",
    key_shape="sk-ant-...",
    base_url_variable="ANTHROPIC_BASE_URL",
    fake_marker="fake_anthropic",
    hosts=("api.anthropic.com",),
    paths=("/v1/messages", "/v1/complete"),
)
OPENAI: Final = CassetteProvider(
    name="OpenAI",
    key_variable="OPENAI_API_KEY",
    key_shape="sk-...",
    base_url_variable="OPENAI_BASE_URL",
    fake_marker="fake_openai",
    hosts=("api.openai.com", ".openai.azure.com"),
    paths=(
        "/chat/completions",
        "/responses",
        "/embeddings",
        "/completions",
        "/moderations",
        "/audio/",
        "/images/",
    ),
)

PROVIDERS: Final = (OPENAI, ANTHROPIC)
"""The providers messages can name, in the order titles list them (no path fragment of one
is found in the other's endpoints)."""


def provider_of(request: Any) -> CassetteProvider | None:
    """The provider a vcrpy request (duck-typed: its ``uri``) went to, or ``None``."""
    parts = urlsplit(str(request.uri))
    host = (parts.hostname or "").lower()
    for provider in PROVIDERS:
        if provider.serves(host):
            return provider
    path = parts.path
    for provider in PROVIDERS:
        if provider.speaks(path):
            return provider
    return None


def title(names: set[str]) -> str:
    """``"OpenAI and Anthropic cassettes"``: the cassettes of the providers ``names`` (in
    :data:`PROVIDERS`' order), or ``"AI cassettes"`` when none is known."""
    ordered = [p.name for p in PROVIDERS if p.name in names]
    if not ordered:
        return "AI cassettes"
    return f"{' and '.join(ordered)} cassettes"
