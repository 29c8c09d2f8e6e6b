"""Opening a usage context that is *not* nested in the current one.

A wider-scoped fixture set up during a test's setup must not charge the test: its calls are
counted in a root context of its own. Only the core owns the ``ContextVar``, so this is the one
place that reaches into it, to hide the current context while the fixture runs.
"""

from __future__ import annotations

from contextvars import Token

from aiusage_core import UsageContext
from aiusage_core._context import _current

__all__ = ["Detached", "open_detached"]


class Detached:
    """A root usage context opened by :func:`open_detached`; :meth:`close` it exactly once."""

    __slots__ = ("_token", "context")

    def __init__(self, context: UsageContext, token: Token[UsageContext | None]) -> None:
        self.context = context
        self._token = token

    def close(self) -> None:
        """Leave the context and make current again whatever was current before it."""
        try:
            self.context.__exit__(None, None, None)
        finally:
            _current.reset(self._token)


def open_detached(operation_type: str) -> Detached:
    """Enter a new root context named ``operation_type``, whatever context is current."""
    token = _current.set(None)
    context = UsageContext(operation_type)
    try:
        context.__enter__()
    except BaseException:
        _current.reset(token)
        raise
    return Detached(context, token)
