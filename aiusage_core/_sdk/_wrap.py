"""``wrap_*``: track one client, and the clients ``with_options()`` derives from it.

The client object is kept; its class is swapped for a subclass of its own class that tracks
``request()``. So ``isinstance(client, OpenAI)`` still holds, resources made before wrapping
are tracked too (they call ``client.post`` -> ``self.request``), nothing global changes, and
``copy()``/``with_options()`` (which build ``self.__class__(...)``) return tracked clients
with the same options.
"""

from __future__ import annotations

import threading
from typing import Any

from .._providers import Provider
from .._tracking import DEFAULT_OPTIONS, TrackingOptions
from ._call import call_async, call_sync

__all__ = ["OPTIONS_KEY", "is_wrapped", "options_of", "wrap"]

OPTIONS_KEY = "_aiusage_tracking"
"""Where a wrapped client keeps its :class:`TrackingOptions` (in its ``__dict__``)."""


def options_of(client: object) -> TrackingOptions:
    """The options ``client`` was wrapped with (the defaults if it was not)."""
    options = client.__dict__.get(OPTIONS_KEY)
    return options if isinstance(options, TrackingOptions) else DEFAULT_OPTIONS


def is_wrapped(client: object) -> bool:
    """Whether ``client`` was given to a ``wrap_*`` function."""
    return getattr(type(client), "_aiusage_wrapped", False) is True


def _super(cls: type, obj: object) -> Any:
    """``super(cls, obj)`` for a class made at run time (mypy cannot follow it)."""
    return super(cls, obj)


def _sync_methods(adapter: Provider, tracked: type) -> dict[str, Any]:
    def request(self: Any, cast_to: Any, options: Any, *args: Any, **kwargs: Any) -> Any:
        send = _super(tracked, self).request
        return call_sync(adapter, self, send, options_of(self), cast_to, options, args, kwargs)

    return {"request": request}


def _async_methods(adapter: Provider, tracked: type) -> dict[str, Any]:
    async def request(self: Any, cast_to: Any, options: Any, *args: Any, **kwargs: Any) -> Any:
        send = _super(tracked, self).request
        return await call_async(
            adapter, self, send, options_of(self), cast_to, options, args, kwargs
        )

    return {"request": request}


def _copy_method(tracked: type) -> Any:
    def copy(self: Any, *args: Any, **kwargs: Any) -> Any:
        # The SDK builds the copy with self.__class__, so it is tracked; give it our options.
        copied = _super(tracked, self).copy(*args, **kwargs)
        copied.__dict__[OPTIONS_KEY] = options_of(self)
        return copied

    return copy


_tracked_classes: dict[type, type] = {}
_lock = threading.Lock()


def _tracked_class(adapter: Provider, cls: type) -> type:
    """The tracking subclass of an SDK client class (made once per class).

    Its only base is ``cls`` and it adds no slots, so ``__class__`` can be swapped both ways;
    hence methods added to the class rather than a mixin, which would change the layout.
    """
    with _lock:
        tracked = _tracked_classes.get(cls)
        if tracked is not None:
            return tracked
        # Same names as the SDK class, so reprs and logs read as before.
        tracked = type(
            cls.__name__,
            (cls,),
            {
                "__module__": cls.__module__,
                "__qualname__": cls.__qualname__,
                "__doc__": cls.__doc__,
                "_aiusage_wrapped": True,
            },
        )
        methods = (
            _sync_methods(adapter, tracked)
            if issubclass(cls, adapter.sdk.sync_client)
            else _async_methods(adapter, tracked)
        )
        methods["copy"] = methods["with_options"] = _copy_method(tracked)
        for name, method in methods.items():
            method.__qualname__ = f"{cls.__qualname__}.{name}"
            setattr(tracked, name, method)
        _tracked_classes[cls] = tracked
        return tracked


def wrap(adapter: Provider, client: Any, tracking: TrackingOptions) -> None:
    """Track ``client`` (an instance of the adapter's SDK client classes) with ``tracking``."""
    if not is_wrapped(client):
        client.__class__ = _tracked_class(adapter, type(client))
    client.__dict__[OPTIONS_KEY] = tracking
