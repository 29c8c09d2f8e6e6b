"""``@ai_usage_tracked``: run each call of a function in its own usage context."""

from __future__ import annotations

import functools
import inspect
from collections.abc import AsyncGenerator, Callable, Generator, Iterable
from typing import Any, TypeVar, overload

from ._budget import Budget
from ._context import UsageContext, _current, context_factory
from ._errors import ConfigurationError
from ._sinks import Sink

__all__ = ["ai_usage_tracked", "track"]

F = TypeVar("F", bound=Callable[..., Any])

_JSON_SCALARS = (str, int, float, bool)


def _call_time_value(value: Any) -> Any:
    # Call-time identifiers are often UUIDs or ints: keep JSON scalars, stringify the rest.
    return value if isinstance(value, _JSON_SCALARS) else str(value)


class _CallPlan:
    """What the wrapper needs to know about the function, computed once at decoration."""

    __slots__ = (
        "accepts_var_kw",
        "binds",
        "declared",
        "defaults",
        "keys",
        "positions",
        "wants_tracker",
    )

    def __init__(self, func: Callable[..., Any], keys: tuple[str, ...]) -> None:
        signature = inspect.signature(func)
        params = signature.parameters
        self.keys = keys
        self.accepts_var_kw = any(p.kind is p.VAR_KEYWORD for p in params.values())
        self.wants_tracker = "tracker" in params
        positional = [
            name
            for name, p in params.items()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        ]
        self.positions = {k: positional.index(k) for k in keys if k in positional}
        self.defaults = {
            k: params[k].default
            for k in keys
            if k in params
            and params[k].default is not inspect.Parameter.empty
            and params[k].default is not None
        }
        self.declared = frozenset(k for k in keys if k in params)
        # Whether a call without keyword arguments can still add metadata or a tracker; most
        # functions cannot, and their calls skip the binding step altogether.
        self.binds = bool(self.positions or self.defaults or self.wants_tracker)

    def call_metadata(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        """Take the context keys out of the call; drop them from ``kwargs`` when the function
        does not accept them."""
        found: dict[str, Any] = {}
        for key in self.keys:
            if key in kwargs:
                value = (
                    kwargs[key]
                    if (key in self.declared or self.accepts_var_kw)
                    else kwargs.pop(key)
                )
            elif key in self.positions and len(args) > self.positions[key]:
                value = args[self.positions[key]]
            else:
                value = self.defaults.get(key)
            if value is not None:
                found[key] = _call_time_value(value)
        return found


def track(
    func: F,
    make_context: Callable[[], UsageContext],
    keys: tuple[str, ...] | None = None,
) -> F:
    """Wrap ``func`` so each call (or iteration) runs in ``make_context()``."""
    from ._config import settings

    plan = _CallPlan(func, keys if keys is not None else settings().context_keys)

    def bind(ctx: UsageContext, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        values = plan.call_metadata(args, kwargs)
        if values:
            ctx._own = {**ctx._own, **values}
        if plan.wants_tracker and "tracker" not in kwargs:
            kwargs["tracker"] = ctx

    binds = plan.binds

    def open_context(args: tuple[Any, ...], kwargs: dict[str, Any]) -> UsageContext:
        ctx = make_context()
        if kwargs or binds:
            bind(ctx, args, kwargs)
        return ctx

    wrapper: Callable[..., Any]
    if inspect.isasyncgenfunction(func):

        async def agen_wrapper(*args: Any, **kwargs: Any) -> AsyncGenerator[Any, Any]:
            ctx = open_context(args, kwargs)
            ctx._attach()
            failure: BaseException | None = None
            agen = func(*args, **kwargs)
            try:
                method: Callable[[Any], Any] = agen.asend
                arg: Any = None
                while True:
                    token = _current.set(ctx)
                    try:
                        item = await method(arg)
                    except StopAsyncIteration:
                        return
                    finally:
                        _current.reset(token)
                    try:
                        arg, method = (yield item), agen.asend
                    except GeneratorExit:
                        await agen.aclose()
                        raise
                    except BaseException as exc:
                        arg, method = exc, agen.athrow
            except BaseException as exc:
                if not isinstance(exc, GeneratorExit):
                    failure = exc
                raise
            finally:
                ctx._detach(failure)

        wrapper = agen_wrapper
    elif inspect.isgeneratorfunction(func):

        def gen_wrapper(*args: Any, **kwargs: Any) -> Generator[Any, Any, Any]:
            ctx = open_context(args, kwargs)
            # The context is current only while the body runs, never across a yield: the
            # caller's code between items is not attributed to it.
            ctx._attach()
            failure: BaseException | None = None
            gen = func(*args, **kwargs)
            try:
                method: Callable[[Any], Any] = gen.send
                arg: Any = None
                while True:
                    token = _current.set(ctx)
                    try:
                        item = method(arg)
                    except StopIteration as stop:
                        return stop.value
                    finally:
                        _current.reset(token)
                    try:
                        arg, method = (yield item), gen.send
                    except GeneratorExit:
                        gen.close()
                        raise
                    except BaseException as exc:
                        arg, method = exc, gen.throw
            except BaseException as exc:
                if not isinstance(exc, GeneratorExit):
                    failure = exc
                raise
            finally:
                ctx._detach(failure)

        wrapper = gen_wrapper
    elif inspect.iscoroutinefunction(func):

        async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
            # open_context inlined, as in sync_wrapper. ``with`` (not ``async with``): entering
            # and leaving never awaits, and an await costs more than a plain call.
            ctx = make_context()
            if kwargs or binds:
                bind(ctx, args, kwargs)
            with ctx:
                return await func(*args, **kwargs)

        wrapper = async_wrapper
    else:

        def sync_wrapper(*args: Any, **kwargs: Any) -> Any:
            # open_context inlined: this wrapper's own cost is the decorator's overhead.
            ctx = make_context()
            if kwargs or binds:
                bind(ctx, args, kwargs)
            with ctx:
                return func(*args, **kwargs)

        wrapper = sync_wrapper

    functools.update_wrapper(wrapper, func)
    if plan.wants_tracker:
        signature = inspect.signature(func)
        wrapper.__signature__ = signature.replace(  # type: ignore[union-attr]
            parameters=[p for name, p in signature.parameters.items() if name != "tracker"]
        )
    return wrapper  # type: ignore[return-value]


@overload
def ai_usage_tracked(func: F, /) -> F: ...


@overload
def ai_usage_tracked(
    *,
    operation_type: str | None = None,
    context_keys: Iterable[str] | None = None,
    sinks: Iterable[Sink] | None = None,
    budget: Budget | None = None,
    **metadata: Any,
) -> Callable[[F], F]: ...


def ai_usage_tracked(
    func: F | None = None,
    /,
    *,
    operation_type: str | None = None,
    context_keys: Iterable[str] | None = None,
    sinks: Iterable[Sink] | None = None,
    budget: Budget | None = None,
    **metadata: Any,
) -> F | Callable[[F], F]:
    """Run every call of the decorated function in its own usage context.

    Works bare (``@ai_usage_tracked``), empty (``@ai_usage_tracked()``) and with arguments,
    on sync, async, generator and async-generator functions (for generators the context spans
    the iteration). ``operation_type`` defaults to the function's ``__name__``.

    At call time, the arguments named by ``context_keys`` (default ``job_id``, ``batch_id``,
    ``user_id``) become metadata of the call's context; a function that declares such a
    parameter still receives it. A function that declares a ``tracker`` parameter receives the
    :class:`UsageContext`::

        @ai_usage_tracked(operation_type="receipt_processing", team="ocr")
        def process_receipt(receipt_id: str, job_id: str, tracker=None):
            ...
            return tracker.totals.cost_usd

    ``budget`` (a :class:`Budget`) limits each call of the function: every call runs in a
    fresh context with a fresh budget, under the budgets of the contexts around it.
    """
    keys: tuple[str, ...] | None = None
    if context_keys is not None:
        if isinstance(context_keys, str):
            raise ConfigurationError(
                f"context_keys must be a sequence of argument names, not the string "
                f"{context_keys!r}",
                name="context_keys",
                value=context_keys,
            )
        keys = tuple(context_keys)
    sink_tuple = tuple(sinks) if sinks else ()
    if budget is not None and not isinstance(budget, Budget):
        raise ConfigurationError(
            f"@ai_usage_tracked(budget=...) must be an aiusage_core.Budget, not "
            f"{type(budget).__name__} ({budget!r:.80})",
            name="budget",
            value=budget,
        )

    def decorate(fn: F) -> F:
        if not callable(fn):
            raise TypeError(f"@ai_usage_tracked decorates functions, not {fn!r}")
        op = operation_type or getattr(fn, "__name__", None) or "function"
        # Validate metadata once, at decoration time.
        own = UsageContext(op, metadata)._own
        return track(fn, context_factory(op, own, sink_tuple, False, budget), keys)

    if func is not None:
        if (
            operation_type is not None
            or context_keys is not None
            or sinks
            or budget is not None
            or metadata
        ):
            raise TypeError("use @ai_usage_tracked or @ai_usage_tracked(...), not both forms")
        return decorate(func)
    return decorate
