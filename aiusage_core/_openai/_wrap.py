"""``wrap_openai``: track one client, and the clients ``with_options()`` derives from it.

The client object is kept; its class is swapped for a subclass of its own class that tracks
``request()``. So ``isinstance(client, OpenAI)`` still holds, resources made before wrapping
are tracked too (they call ``client.post`` -> ``self.request``), nothing global changes, and
``copy()``/``with_options()`` (which build ``self.__class__(...)``) return tracked clients
with the same options.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any, Literal, TypeVar, overload

import openai
from openai._models import FinalRequestOptions

from .._errors import ConfigurationError
from ._call import call_async, call_sync
from ._options import DEFAULT_OPTIONS, UNSET, TrackingOptions, make_options

__all__ = ["OPTIONS_KEY", "create_wrapped_openai_client", "is_wrapped", "wrap_openai"]

ClientT = TypeVar("ClientT", openai.OpenAI, openai.AsyncOpenAI)

OPTIONS_KEY = "_aiusage_tracking"
"""Where a wrapped client keeps its :class:`TrackingOptions` (in its ``__dict__``)."""


def _options_of(client: object) -> TrackingOptions:
    options = client.__dict__.get(OPTIONS_KEY)
    return options if isinstance(options, TrackingOptions) else DEFAULT_OPTIONS


def is_wrapped(client: object) -> bool:
    """Whether ``client`` was given to :func:`wrap_openai`."""
    return getattr(type(client), "_aiusage_wrapped", False) is True


def _super(cls: type, obj: object) -> Any:
    """``super(cls, obj)`` for a class made at run time (mypy cannot follow it)."""
    return super(cls, obj)


def _sync_methods(tracked: type) -> dict[str, Any]:
    def request(
        self: Any, cast_to: Any, options: FinalRequestOptions, *args: Any, **kwargs: Any
    ) -> Any:
        send = _super(tracked, self).request
        return call_sync(self, send, _options_of(self), cast_to, options, args, kwargs)

    return {"request": request}


def _async_methods(tracked: type) -> dict[str, Any]:
    async def request(
        self: Any, cast_to: Any, options: FinalRequestOptions, *args: Any, **kwargs: Any
    ) -> Any:
        send = _super(tracked, self).request
        return await call_async(self, send, _options_of(self), cast_to, options, args, kwargs)

    return {"request": request}


def _copy_method(tracked: type) -> Any:
    def copy(self: Any, *args: Any, **kwargs: Any) -> Any:
        # The SDK builds the copy with self.__class__, so it is tracked; give it our options.
        copied = _super(tracked, self).copy(*args, **kwargs)
        copied.__dict__[OPTIONS_KEY] = _options_of(self)
        return copied

    return copy


_tracked_classes: dict[type, type] = {}
_lock = threading.Lock()


def _tracked_class(cls: type) -> type:
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
            _sync_methods(tracked) if issubclass(cls, openai.OpenAI) else _async_methods(tracked)
        )
        methods["copy"] = methods["with_options"] = _copy_method(tracked)
        for name, method in methods.items():
            method.__qualname__ = f"{cls.__qualname__}.{name}"
            setattr(tracked, name, method)
        _tracked_classes[cls] = tracked
        return tracked


def wrap_openai(
    client: ClientT,
    *,
    metadata: Mapping[str, Any] | None = UNSET,
    stream_usage: bool = UNSET,
    send_metadata: bool = UNSET,
    provider: str | None = UNSET,
) -> ClientT:
    """Implementation of :func:`aiusage_core.wrap_openai` (documented there)."""
    if not isinstance(client, openai.OpenAI | openai.AsyncOpenAI):
        raise ConfigurationError(
            "wrap_openai() takes an openai.OpenAI, AsyncOpenAI, AzureOpenAI or "
            f"AsyncAzureOpenAI client, not {type(client).__name__} ({client!r:.80})",
            name="client",
            value=client,
        )
    tracking = make_options(
        source="wrap_openai()",
        base=_options_of(client),
        metadata=metadata,
        stream_usage=stream_usage,
        send_metadata=send_metadata,
        provider=provider,
    )
    if not is_wrapped(client):
        client.__class__ = _tracked_class(type(client))
    client.__dict__[OPTIONS_KEY] = tracking
    return client


@overload
def create_wrapped_openai_client(
    *, async_: Literal[False] = False, azure: bool = False, **openai_kwargs: Any
) -> openai.OpenAI: ...


@overload
def create_wrapped_openai_client(
    *, async_: Literal[True], azure: bool = False, **openai_kwargs: Any
) -> openai.AsyncOpenAI: ...


def create_wrapped_openai_client(
    *, async_: bool = False, azure: bool = False, **openai_kwargs: Any
) -> openai.OpenAI | openai.AsyncOpenAI:
    """Implementation of :func:`aiusage_core.create_wrapped_openai_client`."""
    if async_:
        return wrap_openai(
            openai.AsyncAzureOpenAI(**openai_kwargs)
            if azure
            else openai.AsyncOpenAI(**openai_kwargs)
        )
    return wrap_openai(
        openai.AzureOpenAI(**openai_kwargs) if azure else openai.OpenAI(**openai_kwargs)
    )
