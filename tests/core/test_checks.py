"""check_propagation: which runners carry the usage context to the code they run."""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor

import pytest

from aiusage_core import (
    ConfigurationError,
    ContextError,
    ContextThreadPoolExecutor,
    acheck_propagation,
    ai_usage_context,
    check_propagation,
    current_context,
    propagate,
    record_usage,
)

Probe = Callable[[], None]

BUILTIN_CARRIED = (
    "threading.Thread + propagate()",
    "ContextThreadPoolExecutor",
    "asyncio task",
    "asyncio.to_thread",
)
BUILTIN_LOST = ("threading.Thread", "ThreadPoolExecutor", "loop.run_in_executor")


def test_builtin_mechanisms_are_reported_carried_or_lost() -> None:
    report = check_propagation()
    assert report.carried == BUILTIN_CARRIED
    assert report.lost == BUILTIN_LOST
    assert report.failed == ()
    assert not report.ok
    assert len(report) == 7
    assert all(r.ran and r.error is None and r.calls == 0 for r in report)
    assert report["asyncio task"].seen == ("propagation_check",)
    assert report["threading.Thread"].seen is None
    text = str(report)
    assert "carried  ContextThreadPoolExecutor" in text
    assert "LOST     ThreadPoolExecutor: the usage context did not arrive" in text


def test_the_check_leaves_no_context_open() -> None:
    check_propagation()
    assert current_context() is None


@pytest.fixture
def pool() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(max_workers=2) as executor:
        yield executor


def test_a_runner_returning_a_future_is_checked(pool: ThreadPoolExecutor) -> None:
    with ContextThreadPoolExecutor(max_workers=2) as context_pool:
        report = check_propagation({"plain": pool.submit, "context": context_pool.submit})
    assert report.lost == ("plain",)
    assert report.carried == ("context",)
    report.assert_carried("context")
    with pytest.raises(AssertionError, match="did not reach 'plain'") as raised:
        report.assert_carried()
    assert "LOST     plain" in str(raised.value)


class Worker:
    """A job queue served by a long-lived thread: the kind of code users need to check."""

    def __init__(self) -> None:
        self.jobs: queue.Queue[Probe | None] = queue.Queue()
        self.thread = threading.Thread(target=self._serve)
        self.thread.start()

    def _serve(self) -> None:
        while (job := self.jobs.get()) is not None:
            job()

    def submit(self, fn: Probe) -> None:
        self.jobs.put(fn)

    def submit_propagated(self, fn: Probe) -> None:
        self.jobs.put(propagate(fn))

    def stop(self) -> None:
        self.jobs.put(None)
        self.thread.join()


@pytest.fixture
def worker() -> Iterator[Worker]:
    w = Worker()
    yield w
    w.stop()


def test_a_runner_that_returns_before_the_probe_runs_is_waited_for(worker: Worker) -> None:
    report = check_propagation([worker.submit, worker.submit_propagated])
    assert report.names == ("Worker.submit", "Worker.submit_propagated")
    assert report.lost == ("Worker.submit",)
    assert report.carried == ("Worker.submit_propagated",)


def test_calls_made_by_fn_count_on_the_context_only_where_it_arrived(
    pool: ThreadPoolExecutor,
) -> None:
    def call() -> None:
        record_usage(model="gpt-4o-mini", input_tokens=10, output_tokens=2)

    report = check_propagation(fn=call)
    assert {r.name: r.calls for r in report} == {
        **dict.fromkeys(BUILTIN_CARRIED, 1),
        **dict.fromkeys(BUILTIN_LOST, 0),
    }
    assert "[1 call counted]" in str(report["asyncio task"])


def test_fn_can_hop_threads_itself(pool: ThreadPoolExecutor) -> None:
    # A library function that fans out to a pool internally: the runner calls it in place,
    # and `calls` shows whether its AI calls were counted.
    def library_call() -> None:
        pool.submit(record_usage, model="gpt-4o-mini", input_tokens=1).result()

    result = check_propagation(lambda probe: probe(), fn=library_call)["<lambda>"]
    assert result.carried
    assert result.calls == 0


def test_a_nested_context_opened_by_the_runner_still_counts_as_carried() -> None:
    def runner(probe: Probe) -> None:
        with ai_usage_context("job"):
            probe()

    result = check_propagation({"nested": runner})["nested"]
    assert result.carried
    assert result.seen == ("propagation_check", "job")


def test_an_unrelated_context_is_lost_and_named(pool: ThreadPoolExecutor) -> None:
    def in_other_context(probe: Probe) -> None:
        def run() -> None:
            with ai_usage_context("elsewhere"):
                probe()

        pool.submit(run).result()

    result = check_propagation({"other": in_other_context})["other"]
    assert not result.carried
    assert result.seen == ("elsewhere",)
    assert "current_context() was 'elsewhere'" in str(result)


def test_a_runner_that_never_runs_the_probe_fails_after_the_timeout() -> None:
    result = check_propagation({"dropped": lambda probe: None}, timeout=0.05)["dropped"]
    assert result.status == "FAILED"
    assert not result.ran
    assert not result.carried
    assert str(result) == "FAILED   dropped: Timeout: the probe did not run within 0.05 s"


def test_a_runner_that_raises_or_a_failed_future_is_reported_not_raised() -> None:
    def raises(probe: Probe) -> None:
        raise RuntimeError("queue is full")

    def failed_future(probe: Probe) -> Future[None]:
        future: Future[None] = Future()
        future.set_exception(ConnectionError("broker down"))
        return future

    report = check_propagation({"raises": raises, "future": failed_future}, timeout=5)
    assert report.failed == ("raises", "future")
    assert str(report["raises"].error) == "RuntimeError: queue is full"
    assert str(report["future"].error) == "ConnectionError: broker down"


def test_an_exception_from_fn_is_reported_next_to_the_outcome() -> None:
    def boom() -> None:
        raise ValueError("bad input")

    result = check_propagation(lambda probe: probe(), fn=boom)["<lambda>"]
    assert result.carried
    assert str(result.error) == "ValueError: bad input"


def test_async_runners_are_awaited() -> None:
    async def via_task(probe: Probe) -> None:
        async def job() -> None:
            probe()

        await asyncio.create_task(job())

    async def via_executor(probe: Probe) -> None:
        await asyncio.get_running_loop().run_in_executor(None, probe)

    report = check_propagation({"task": via_task, "executor": via_executor})
    assert report.carried == ("task",)
    assert report.lost == ("executor",)


def test_acheck_propagation_runs_on_the_running_loop() -> None:
    async def main() -> tuple[tuple[str, ...], tuple[str, ...]]:
        report = await acheck_propagation()
        return report.carried, report.lost

    assert asyncio.run(main()) == (BUILTIN_CARRIED, BUILTIN_LOST)


def test_check_propagation_inside_a_running_loop_points_to_acheck_propagation() -> None:
    async def main() -> None:
        check_propagation()

    with pytest.raises(ContextError, match="acheck_propagation"):
        asyncio.run(main())


def test_duplicate_runner_names_are_numbered() -> None:
    report = check_propagation([lambda p: p(), lambda p: p()])
    assert report.names == ("<lambda>", "<lambda> (2)")
    with pytest.raises(KeyError, match="no runner named 'x'"):
        report["x"]


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"runners": 42}, "runners"),
        ({"runners": {"a": "not callable"}}, "runners"),
        ({"runners": {"": lambda p: p()}}, "runners"),
        ({"timeout": 0}, "timeout"),
        ({"timeout": float("nan")}, "timeout"),
        ({"timeout": True}, "timeout"),
    ],
)
def test_bad_arguments_raise_naming_the_argument(kwargs: dict[str, object], name: str) -> None:
    with pytest.raises(ConfigurationError) as raised:
        check_propagation(**kwargs)  # type: ignore[arg-type]
    assert raised.value.name == name


def test_an_exception_from_fn_where_the_context_was_lost_still_reports_lost(
    pool: ThreadPoolExecutor,
) -> None:
    def needs_context() -> None:
        if current_context() is None:
            raise LookupError("no usage context")

    result = check_propagation({"plain": pool.submit}, fn=needs_context)["plain"]
    assert result.status == "LOST"
    assert str(result) == (
        "LOST     plain: the usage context did not arrive (current_context() was None); "
        "LookupError: no usage context"
    )
