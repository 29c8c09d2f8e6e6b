"""``instrument_*``: opt-in tracking of every client of one SDK in the process.

``request`` is patched on the SDK's sync and async client classes (which the Azure, Bedrock
and Vertex clients inherit), so clients made earlier, later, or inside third-party libraries
are tracked. A client given to a ``wrap_*`` function is tracked by its own class and passed
through here, so it is counted once. Uninstrumenting restores the classes exactly.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .._providers import Provider
from .._tracking import DEFAULT_OPTIONS, TrackingOptions
from ._call import call_async, call_sync
from ._wrap import is_wrapped

__all__ = ["instrument", "is_instrumented", "tracking_of", "uninstrument"]

logger = logging.getLogger("aiusage")


@dataclass
class _State:
    active: bool = False
    tracking: TrackingOptions = DEFAULT_OPTIONS
    # class -> (our hook, the class's own ``request`` before it, or None if it inherited one)
    installed: dict[type, tuple[Callable[..., Any], Any]] = field(default_factory=dict)


_states: dict[str, _State] = {}  # by adapter name
_lock = threading.Lock()


def _state(adapter: Provider) -> _State:
    state = _states.get(adapter.name)
    if state is None:
        state = _states.setdefault(adapter.name, _State())
    return state


def _sender(cls: type, previous: Any, client: Any) -> Any:
    """The ``request`` our hook stands in front of, bound to ``client``."""
    if previous is not None:
        return previous.__get__(client, type(client))
    return super(cls, client).request  # type: ignore[arg-type]


def _sync_hook(adapter: Provider, state: _State, cls: type, previous: Any) -> Callable[..., Any]:
    def request(self: Any, cast_to: Any, options: Any, *args: Any, **kwargs: Any) -> Any:
        send = _sender(cls, previous, self)
        if not state.active or is_wrapped(self):
            return send(cast_to, options, *args, **kwargs)
        return call_sync(adapter, self, send, state.tracking, cast_to, options, args, kwargs)

    return request


def _async_hook(adapter: Provider, state: _State, cls: type, previous: Any) -> Callable[..., Any]:
    async def request(self: Any, cast_to: Any, options: Any, *args: Any, **kwargs: Any) -> Any:
        send = _sender(cls, previous, self)
        if not state.active or is_wrapped(self):
            return await send(cast_to, options, *args, **kwargs)
        return await call_async(adapter, self, send, state.tracking, cast_to, options, args, kwargs)

    return request


def tracking_of(adapter: Provider) -> TrackingOptions:
    """The options in force for ``adapter``'s instrumentation (the defaults if none)."""
    return _state(adapter).tracking


def instrument(adapter: Provider, tracking: TrackingOptions) -> None:
    """Track every client of ``adapter``'s SDK with ``tracking`` until :func:`uninstrument`."""
    with _lock:
        state = _state(adapter)
        state.tracking = tracking
        for cls, make_hook in (
            (adapter.sdk.sync_client, _sync_hook),
            (adapter.sdk.async_client, _async_hook),
        ):
            if cls in state.installed:
                continue
            previous = cls.__dict__.get("request")
            hook = make_hook(adapter, state, cls, previous)
            hook.__qualname__ = f"{cls.__qualname__}.request"
            hook.__wrapped__ = previous  # type: ignore[attr-defined]
            cls.request = hook  # type: ignore[attr-defined]
            state.installed[cls] = (hook, previous)
        state.active = True


def uninstrument(adapter: Provider, source: str) -> None:
    """Undo :func:`instrument` for ``adapter`` (``source`` names the caller in warnings)."""
    with _lock:
        state = _state(adapter)
        state.active = False
        state.tracking = DEFAULT_OPTIONS
        for cls, (hook, previous) in list(state.installed.items()):
            if cls.__dict__.get("request") is not hook:
                logger.warning(
                    "aiusage: %s.request was patched again after %s; "
                    "leaving our (now inactive) hook in its chain",
                    cls.__qualname__,
                    source,
                )
                continue
            if previous is None:
                del cls.request  # type: ignore[attr-defined]
            else:
                cls.request = previous  # type: ignore[attr-defined]
            del state.installed[cls]


def is_instrumented(adapter: Provider) -> bool:
    """Whether ``adapter``'s SDK is instrumented."""
    return _state(adapter).active
