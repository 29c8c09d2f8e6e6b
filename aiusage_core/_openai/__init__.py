"""The OpenAI client integration (private; the public names live in ``aiusage_core``).

Modules: ``_api`` (the public functions; they import the rest on first use), ``_wrap``
(per-client tracking), ``_instrument`` (process-wide, opt-in), ``_call`` (one tracked
request), ``_stream`` (streams and raw responses), ``_pending`` (making each record exactly
once), ``_extract`` (token counts out of responses), ``_request`` (opt-in body edits),
``_options``.
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
