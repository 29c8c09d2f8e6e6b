"""The OpenAI client integration (private; the public names live in ``aiusage_core``).

Modules: ``_api`` (the public functions; they import ``_integration``, and with it the
``openai`` SDK, on first use), ``_extract`` (token counts out of responses), ``_request``
(opt-in body edits), ``_estimate`` (a request's worst case, for budgets). The adapter the
engine uses is :mod:`aiusage_core._providers.openai`; the hooks are :mod:`aiusage_core._sdk`.
"""

from __future__ import annotations

from ._api import (
    create_wrapped_openai_client,
    instrument_openai,
    uninstrument_openai,
    wrap_openai,
)

__all__ = [
    "create_wrapped_openai_client",
    "instrument_openai",
    "uninstrument_openai",
    "wrap_openai",
]
