"""Carrying the current usage context into threads.

asyncio tasks copy the ``contextvars`` context when they are created, so they inherit the
current usage context by themselves. Threads do not: a plain ``threading.Thread`` or
``ThreadPoolExecutor`` worker starts with an empty context. :func:`propagate` and
:class:`ContextThreadPoolExecutor` fix that.
"""

from __future__ import annotations

import contextvars
import functools
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, ParamSpec, TypeVar

__all__ = ["ContextThreadPoolExecutor", "propagate"]

P = ParamSpec("P")
R = TypeVar("R")


def propagate(fn: Callable[P, R]) -> Callable[P, R]:
    """Bind ``fn`` to the current context (usage context included), for another thread::

        threading.Thread(target=propagate(worker)).start()

    Each call runs in a copy of the context captured now, so the wrapped function may be
    called from several threads at once.
    """
    captured = contextvars.copy_context()

    @functools.wraps(fn)
    def run_in_context(*args: P.args, **kwargs: P.kwargs) -> R:
        return captured.copy().run(fn, *args, **kwargs)

    return run_in_context


class ContextThreadPoolExecutor(ThreadPoolExecutor):
    """A ``ThreadPoolExecutor`` whose tasks run in the context of the code that submitted
    them, so their AI calls count on the submitter's usage context."""

    def submit(self, fn: Callable[..., R], /, *args: Any, **kwargs: Any) -> Future[R]:
        """Schedule ``fn(*args, **kwargs)`` in a copy of the caller's context."""
        context = contextvars.copy_context()
        return super().submit(context.run, fn, *args, **kwargs)
