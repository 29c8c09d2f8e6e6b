"""Does the usage context reach the code that makes the AI calls? Find out per mechanism.

A usage context lives in a ``ContextVar``. It reaches asyncio tasks and ``asyncio.to_thread``
by itself, reaches threads only through :func:`propagate` or
:class:`ContextThreadPoolExecutor`, and is lost by a plain ``threading.Thread``,
``ThreadPoolExecutor`` or ``loop.run_in_executor``. Job queues, worker pools and frameworks
each do one or the other: :func:`check_propagation` tells which, for the built-in mechanisms
and for any runner of yours.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_futures
from dataclasses import dataclass
from typing import Any

from ._context import UsageContext, ai_usage_context, current_context
from ._errors import ConfigurationError, ContextError
from ._propagation import ContextThreadPoolExecutor, propagate
from ._records import ErrorInfo

__all__ = [
    "PropagationReport",
    "PropagationResult",
    "Runner",
    "acheck_propagation",
    "check_propagation",
]

Runner = Callable[[Callable[[], None]], Any]
"""Something that runs a callable somehow: in a thread, a pool, a queue, a task.

It receives the probe (a callable taking no arguments) and may run it at once, later, in
another thread or on the event loop. It may return an awaitable (an ``async def`` runner),
which is awaited, or a ``concurrent.futures.Future``, whose failure is reported.
"""

CHECK_OPERATION = "propagation_check"
"""The operation type of the usage context each check opens (metadata ``runner=<name>``)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class PropagationResult:
    """What happened to the usage context when one runner ran the probe."""

    name: str
    """The runner's name."""
    carried: bool
    """Whether the probe saw the check's usage context (or a context nested in it)."""
    ran: bool
    """Whether the probe ran (and returned) before the timeout."""
    seen: tuple[str, ...] | None
    """The path of the usage context the probe saw, or ``None`` when it saw none."""
    calls: int
    """Records counted on the check's context by the time the probe returned: the AI calls
    your ``fn`` made that were attributed to the context."""
    error: ErrorInfo | None
    """An exception raised by the runner, its future or ``fn``, or the timeout, else
    ``None``. An error after the probe ran does not change :attr:`status`."""

    @property
    def status(self) -> str:
        """``"carried"``, ``"LOST"``, or ``"FAILED"`` when the probe did not run (the runner
        raised, its future failed, or the timeout passed)."""
        if not self.ran:
            return "FAILED"
        return "carried" if self.carried else "LOST"

    def __str__(self) -> str:
        notes = []
        if self.ran and not self.carried:
            seen = "None" if self.seen is None else repr("/".join(self.seen))
            notes.append(f"the usage context did not arrive (current_context() was {seen})")
        if self.error is not None:
            notes.append(str(self.error))
        line = f"{self.status:<8} {self.name}" + (": " + "; ".join(notes) if notes else "")
        if self.calls:
            line += f" [{self.calls} call{'s' if self.calls != 1 else ''} counted]"
        return line


@dataclass(frozen=True, slots=True)
class PropagationReport:
    """The results of :func:`check_propagation`, one per runner, in order.

    ``print(report)`` shows a table; ``report.assert_carried()`` fails a test when any
    runner lost the context::

        >>> report = check_propagation()  # doctest: +SKIP
        >>> report.lost  # doctest: +SKIP
        ('threading.Thread', 'ThreadPoolExecutor', 'loop.run_in_executor')
    """

    results: tuple[PropagationResult, ...]
    """One result per runner."""

    @property
    def carried(self) -> tuple[str, ...]:
        """Names of the runners that carried the context."""
        return tuple(r.name for r in self.results if r.status == "carried")

    @property
    def lost(self) -> tuple[str, ...]:
        """Names of the runners that ran the probe without the context."""
        return tuple(r.name for r in self.results if r.status == "LOST")

    @property
    def failed(self) -> tuple[str, ...]:
        """Names of the runners that did not run the probe in time, or raised."""
        return tuple(r.name for r in self.results if r.status == "FAILED")

    @property
    def ok(self) -> bool:
        """Whether every runner carried the context."""
        return all(r.status == "carried" for r in self.results)

    def __getitem__(self, name: str) -> PropagationResult:
        for result in self.results:
            if result.name == name:
                return result
        raise KeyError(f"no runner named {name!r}; runners: {', '.join(self.names)}")

    def __iter__(self) -> Iterator[PropagationResult]:
        return iter(self.results)

    def __len__(self) -> int:
        return len(self.results)

    @property
    def names(self) -> tuple[str, ...]:
        """Names of every runner checked, in order."""
        return tuple(r.name for r in self.results)

    def assert_carried(self, *names: str) -> None:
        """Raise ``AssertionError`` unless the named runners (default: all) carried the
        context; the message is the report, so a failing test shows which runner lost it."""
        wanted = [self[name] for name in names] if names else list(self.results)
        bad = [r for r in wanted if r.status != "carried"]
        if bad:
            raise AssertionError(
                "the usage context did not reach "
                + ", ".join(repr(r.name) for r in bad)
                + "\n"
                + str(self)
            )

    def __str__(self) -> str:
        return "usage context propagation:\n" + "\n".join(f"  {r}" for r in self.results)


class _Probe:
    """The callable handed to a runner: notes the context it runs in, calls ``fn``."""

    def __init__(self, fn: Callable[[], object] | None) -> None:
        self.fn = fn
        self.seen: UsageContext | None = None
        self.error: ErrorInfo | None = None
        self.done = threading.Event()
        self._lock = threading.Lock()
        self._notify: Callable[[], object] | None = None

    def __call__(self) -> None:
        try:
            self.seen = current_context()
            if self.fn is not None:
                self.fn()
        except Exception as exc:  # reported, not raised: the runner is what is checked
            self.error = ErrorInfo.from_exception(exc)
        finally:
            with self._lock:
                self.done.set()
                notify = self._notify
            if notify is not None:
                # RuntimeError: the waiting event loop is gone (it timed out and closed).
                with contextlib.suppress(RuntimeError):
                    notify()

    async def wait(self, timeout: float) -> bool:
        """Wait on the running event loop, without blocking it, for the probe to return."""
        loop = asyncio.get_running_loop()
        finished = asyncio.Event()
        with self._lock:
            if self.done.is_set():
                return True
            self._notify = lambda: loop.call_soon_threadsafe(finished.set)
        try:
            await asyncio.wait_for(finished.wait(), timeout)
        except asyncio.TimeoutError:
            return False
        return True


def _plain_thread(probe: Callable[[], None]) -> None:
    thread = threading.Thread(target=probe)
    thread.start()
    thread.join()


def _propagated_thread(probe: Callable[[], None]) -> None:
    thread = threading.Thread(target=propagate(probe))
    thread.start()
    thread.join()


def _thread_pool(probe: Callable[[], None]) -> None:
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(probe).result()


def _context_thread_pool(probe: Callable[[], None]) -> None:
    with ContextThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(probe).result()


async def _asyncio_task(probe: Callable[[], None]) -> None:
    async def call() -> None:
        probe()

    await asyncio.create_task(call())


async def _to_thread(probe: Callable[[], None]) -> None:
    await asyncio.to_thread(probe)


async def _run_in_executor(probe: Callable[[], None]) -> None:
    await asyncio.get_running_loop().run_in_executor(None, probe)


BUILTIN_RUNNERS: Mapping[str, Runner] = {
    "threading.Thread": _plain_thread,
    "threading.Thread + propagate()": _propagated_thread,
    "ThreadPoolExecutor": _thread_pool,
    "ContextThreadPoolExecutor": _context_thread_pool,
    "asyncio task": _asyncio_task,
    "asyncio.to_thread": _to_thread,
    "loop.run_in_executor": _run_in_executor,
}
"""The mechanisms checked when no runner is given, by name."""


def _named_runners(
    runners: Runner | Mapping[str, Runner] | Iterable[Runner] | None,
) -> list[tuple[str, Runner]]:
    if runners is None:
        return list(BUILTIN_RUNNERS.items())
    if callable(runners):
        items: list[tuple[object, object]] = [(None, runners)]
    elif isinstance(runners, Mapping):
        items = list(runners.items())
    elif isinstance(runners, Iterable):
        items = [(None, runner) for runner in runners]
    else:
        raise ConfigurationError(
            "check_propagation(runners=...) must be a callable, a mapping of names to "
            f"callables or an iterable of callables, not {type(runners).__name__} "
            f"({runners!r:.60})",
            name="runners",
            value=runners,
        )
    named: list[tuple[str, Runner]] = []
    taken: set[str] = set()
    for name, runner in items:
        if not callable(runner):
            raise ConfigurationError(
                f"check_propagation(runners=...): runner {name or len(named)!r} is not "
                f"callable: {runner!r:.60}",
                name="runners",
                value=runner,
            )
        if name is None:
            qualname = getattr(runner, "__qualname__", None)
            # "test_x.<locals>.submit" reads better as "submit".
            name = qualname.rsplit("<locals>.", 1)[-1] if qualname else repr(runner)
        if not isinstance(name, str) or not name:
            raise ConfigurationError(
                f"check_propagation(runners=...): runner names must be non-empty strings, "
                f"not {name!r}",
                name="runners",
                value=name,
            )
        base, n = name, 1
        while name in taken:
            n += 1
            name = f"{base} ({n})"
        taken.add(name)
        named.append((name, runner))
    return named


def _check_timeout(timeout: object) -> float:
    if (
        isinstance(timeout, bool)
        or not isinstance(timeout, int | float)
        or not (0 < timeout < float("inf"))
    ):
        raise ConfigurationError(
            f"check_propagation(timeout={timeout!r}) must be a positive number of seconds",
            name="timeout",
            value=timeout,
        )
    return float(timeout)


def _result(
    name: str,
    context: UsageContext,
    probe: _Probe,
    ran: bool,
    error: ErrorInfo | None,
    timeout: float,
) -> PropagationResult:
    seen = probe.seen if ran else None
    node = seen
    while node is not None and node is not context:
        node = node.parent
    if error is None:
        error = probe.error
    if not ran and error is None:
        error = ErrorInfo("Timeout", f"the probe did not run within {timeout:g} s")
    return PropagationResult(
        name=name,
        carried=node is not None,
        ran=ran,
        seen=None if seen is None else seen.path,
        calls=context.totals.calls,
        error=error,
    )


async def _finish(outcome: Awaitable[Any], probe: _Probe, timeout: float) -> bool:
    """Await the runner's awaitable, then the probe; whether the probe ran in time."""
    try:
        await asyncio.wait_for(outcome, timeout)
    except asyncio.TimeoutError:
        return probe.done.is_set()
    return await probe.wait(timeout)


def _wait(outcome: object, probe: _Probe, timeout: float) -> tuple[bool, ErrorInfo | None]:
    """Block until the probe ran or ``timeout`` passed; report a failed runner future."""
    deadline = time.monotonic() + timeout
    if isinstance(outcome, Future):
        wait_futures([outcome], timeout)
        if outcome.cancelled():
            return probe.done.is_set(), ErrorInfo(
                "CancelledError", "the runner's future was cancelled"
            )
        failure = outcome.exception(0) if outcome.done() else None
        if failure is not None:
            return probe.done.is_set(), ErrorInfo.from_exception(failure)
    return probe.done.wait(max(deadline - time.monotonic(), 0.0)), None


def _check_one(
    name: str, runner: Runner, fn: Callable[[], object] | None, timeout: float
) -> PropagationResult:
    probe = _Probe(fn)
    error: ErrorInfo | None = None
    ran = False
    with ai_usage_context(CHECK_OPERATION, runner=name) as context:
        try:
            outcome = runner(probe)
            if inspect.isawaitable(outcome):
                ran = asyncio.run(_finish(outcome, probe, timeout))
            else:
                ran, error = _wait(outcome, probe, timeout)
        except Exception as exc:
            error = ErrorInfo.from_exception(exc)
            ran = probe.done.is_set()
    return _result(name, context, probe, ran, error, timeout)


def check_propagation(
    runners: Runner | Mapping[str, Runner] | Iterable[Runner] | None = None,
    *,
    fn: Callable[[], object] | None = None,
    timeout: float = 5.0,
) -> PropagationReport:
    """Check whether a usage context reaches code run by each runner.

    For each runner, opens a usage context (``"propagation_check"``, metadata
    ``runner=<name>``), hands the runner a *probe* (a callable taking no arguments) and
    waits up to ``timeout`` seconds for it to run. The probe notes the usage context it runs
    in, then calls ``fn`` if given. Without ``runners``, checks the built-in mechanisms
    (``threading.Thread``, with and without :func:`propagate`, ``ThreadPoolExecutor``,
    :class:`ContextThreadPoolExecutor`, an asyncio task, ``asyncio.to_thread`` and
    ``loop.run_in_executor``)::

        print(check_propagation())

    Check your own concurrency code by passing a runner: anything that takes a callable and
    runs it somehow (an ``async def`` runner is awaited)::

        def via_my_queue(probe):
            my_queue.submit(probe)      # returns at once; the probe runs in a worker

        check_propagation(via_my_queue).assert_carried()
        check_propagation({"jobs": via_my_queue, "pool": via_my_pool}).assert_carried("jobs")

    Pass ``fn`` to run your own code where the probe runs (a call through a tracked client,
    say): the result's ``calls`` tells how many of its records counted on the context. Those
    records go to your configured sinks like any other.

    Runs each check in its own event loop where one is needed, so call it where no event
    loop is running; in ``async`` code use :func:`acheck_propagation`.
    """
    named = _named_runners(runners)
    limit = _check_timeout(timeout)
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass
    else:
        raise ContextError(
            "check_propagation() was called while an event loop is running in this thread; "
            "use `await acheck_propagation(...)` in async code"
        )
    return PropagationReport(tuple(_check_one(name, r, fn, limit) for name, r in named))


async def acheck_propagation(
    runners: Runner | Mapping[str, Runner] | Iterable[Runner] | None = None,
    *,
    fn: Callable[[], object] | None = None,
    timeout: float = 5.0,
) -> PropagationReport:
    """:func:`check_propagation` for ``async`` code: runs every runner on the running loop.

    ::

        report = await acheck_propagation(my_async_submit)
        report.assert_carried()
    """
    named = _named_runners(runners)
    limit = _check_timeout(timeout)
    results = []
    for name, runner in named:
        probe = _Probe(fn)
        error: ErrorInfo | None = None
        ran = False
        async with ai_usage_context(CHECK_OPERATION, runner=name) as context:
            try:
                outcome = runner(probe)
                if isinstance(outcome, Future):
                    outcome = asyncio.wrap_future(outcome)
                ran = (
                    await _finish(outcome, probe, limit)
                    if inspect.isawaitable(outcome)
                    else await probe.wait(limit)
                )
            except Exception as exc:
                error = ErrorInfo.from_exception(exc)
                ran = probe.done.is_set()
        results.append(_result(name, context, probe, ran, error, limit))
    return PropagationReport(tuple(results))
