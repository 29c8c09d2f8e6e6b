"""How far a failed call got, read from its exception (both SDKs raise on ``httpx2``)."""

from __future__ import annotations

from typing import Final

import httpx2

__all__ = ["never_sent"]

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
