"""The Anthropic client integration (private; the public names live in ``aiusage_core``).

Modules: ``_api`` (the public functions; they import ``_integration``, and with it the
``anthropic`` SDK, on first use), ``_extract`` (token counts out of messages, normalised to
the vocabulary), ``_estimate`` (a request's worst case, for budgets). The adapter the engine
uses is :mod:`aiusage_core._providers.anthropic`; the hooks are :mod:`aiusage_core._sdk`.
"""

from __future__ import annotations

from ._api import instrument_anthropic, uninstrument_anthropic, wrap_anthropic

__all__ = ["instrument_anthropic", "uninstrument_anthropic", "wrap_anthropic"]
