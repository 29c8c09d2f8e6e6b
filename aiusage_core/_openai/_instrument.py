"""``instrument_openai``: opt-in tracking of every OpenAI client in the process.

``request`` is patched on ``openai.OpenAI`` and ``openai.AsyncOpenAI`` (which the Azure
clients inherit), so clients made earlier, later, or inside third-party libraries are
tracked. A client given to :func:`wrap_openai` is tracked by its own class and passed
through here, so it is counted once. :func:`uninstrument_openai` restores the classes
exactly as they were.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import openai
from openai._models import FinalRequestOptions

from ._call import call_async, call_sync
from ._options import DEFAULT_OPTIONS, UNSET, TrackingOptions, make_options
from ._wrap import is_wrapped

__all__ = ["instrument_openai", "is_instrumented", "uninstrument_openai"]

logger = logging.getLogger("aiusage")


@dataclass
class _State:
    active: bool = False
    tracking: TrackingOptions = DEFAULT_OPTIONS
    # class -> (our hook, the class's own ``request`` before it, or None if it inherited one)
    installed: dict[type, tuple[Callable[..., Any], Any]] = field(default_factory=dict)


_state = _State()
_lock = threading.Lock()


def _sender(cls: type, previous: Any, client: Any) -> Any:
    """The ``request`` our hook stands in front of, bound to ``client``."""
    if previous is not None:
        return previous.__get__(client, type(client))
    return super(cls, client).request  # type: ignore[arg-type]


def _sync_hook(cls: type, previous: Any) -> Callable[..., Any]:
    def request(
        self: Any, cast_to: Any, options: FinalRequestOptions, *args: Any, **kwargs: Any
    ) -> Any:
        send = _sender(cls, previous, self)
        if not _state.active or is_wrapped(self):
            return send(cast_to, options, *args, **kwargs)
        return call_sync(self, send, _state.tracking, cast_to, options, args, kwargs)

    return request


def _async_hook(cls: type, previous: Any) -> Callable[..., Any]:
    async def request(
        self: Any, cast_to: Any, options: FinalRequestOptions, *args: Any, **kwargs: Any
    ) -> Any:
        send = _sender(cls, previous, self)
        if not _state.active or is_wrapped(self):
            return await send(cast_to, options, *args, **kwargs)
        return await call_async(self, send, _state.tracking, cast_to, options, args, kwargs)

    return request


_TARGETS: tuple[tuple[type, Callable[[type, Any], Callable[..., Any]]], ...] = (
    (openai.OpenAI, _sync_hook),
    (openai.AsyncOpenAI, _async_hook),
)


def instrument_openai(
    *,
    metadata: Mapping[str, Any] | None = UNSET,
    stream_usage: bool = UNSET,
    send_metadata: bool = UNSET,
    provider: str | None = UNSET,
) -> None:
    """Implementation of :func:`aiusage_core.instrument_openai` (documented there)."""
    with _lock:
        _state.tracking = make_options(
            source="instrument_openai()",
            base=_state.tracking,
            metadata=metadata,
            stream_usage=stream_usage,
            send_metadata=send_metadata,
            provider=provider,
        )
        for cls, make_hook in _TARGETS:
            if cls in _state.installed:
                continue
            previous = cls.__dict__.get("request")
            hook = make_hook(cls, previous)
            hook.__qualname__ = f"{cls.__qualname__}.request"
            hook.__wrapped__ = previous  # type: ignore[attr-defined]
            cls.request = hook  # type: ignore[attr-defined]
            _state.installed[cls] = (hook, previous)
        _state.active = True


def uninstrument_openai() -> None:
    """Implementation of :func:`aiusage_core.uninstrument_openai` (documented there)."""
    with _lock:
        _state.active = False
        _state.tracking = DEFAULT_OPTIONS
        for cls, (hook, previous) in list(_state.installed.items()):
            if cls.__dict__.get("request") is not hook:
                logger.warning(
                    "aiusage: %s.request was patched again after instrument_openai(); "
                    "leaving our (now inactive) hook in its chain",
                    cls.__qualname__,
                )
                continue
            if previous is None:
                del cls.request  # type: ignore[attr-defined]
            else:
                cls.request = previous  # type: ignore[attr-defined]
            del _state.installed[cls]


def is_instrumented() -> bool:
    """Whether :func:`instrument_openai` is in effect."""
    return _state.active
