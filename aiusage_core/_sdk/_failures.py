"""How far a failed call got, read from its exception (both SDKs raise on ``httpx2``)."""

from __future__ import annotations

from decimal import Decimal
from typing import Final

import httpx2

from .._counts import MISSING, Usage

__all__ = ["failure_usage", "never_sent"]

_SENT: Final = (
    httpx2.ReadError,
    httpx2.ReadTimeout,
    httpx2.WriteError,
    httpx2.WriteTimeout,
    httpx2.RemoteProtocolError,
)
"""Transport errors raised once the request was (at least partly) on the wire."""


def never_sent(exc: BaseException, connection_error: type[BaseException]) -> bool:
    """Whether the request of the call that ``exc`` ended never left the process: the SDK's
    ``connection_error``, caused by anything but a transport error raised after sending (a
    refused or timed-out connection, a blocked network, a cassette with no answer)."""
    if not isinstance(exc, connection_error):
        return False
    cause = exc.__cause__ or exc.__context__
    seen = 0
    while cause is not None and seen < 20:  # a bounded walk down the chain
        if isinstance(cause, _SENT):
            return False
        cause, seen = cause.__cause__ or cause.__context__, seen + 1
    return True


_NO_TOKENS: Final = Usage("reported")
_NOTHING_BILLED: Final = Decimal(0)


def failure_usage(
    exc: BaseException, status_error: type[BaseException], connection_error: type[BaseException]
) -> tuple[Usage, Decimal | None]:
    """The usage and cost of a call that ended with ``exc`` before any usage was read, for a
    Stainless SDK whose errors are ``status_error`` (an HTTP error status) and
    ``connection_error``:

    * an HTTP error status (or an error event before any usage): the API did no billable
      work. Zero tokens, priced ($0 for a known model; an unknown one stays unpriced, never
      a made-up $0);
    * a request that never left the process, whatever the model: zero tokens at $0, a failed
      call, not unpriced spend;
    * anything else (dropped or timed out after sending, broken midway, cancelled): it may
      have been processed and billed, so its usage is ``missing``.
    """
    if isinstance(exc, status_error):
        return _NO_TOKENS, None
    if never_sent(exc, connection_error):
        return _NO_TOKENS, _NOTHING_BILLED
    return MISSING, None
