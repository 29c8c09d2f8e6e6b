"""Measuring a cost as a ratio to its natural baseline, in the same run, on a busy machine.

The benchmark machine has 2 cores shared with other work, so absolute timings drift from one
minute to the next. What stays meaningful is the ratio of a subject to its baseline measured
side by side: :func:`interleaved` runs them in alternating rounds (A/B/A/B...) so both see
the same conditions, and keeps the best round of each (the round least disturbed by other
work; the median is kept too, to show the spread). Shared by the pytest benchmarks (through
``conftest.py``), the scripts' command-line modes and ``compare_peers.py``.
"""

from __future__ import annotations

import gc
import os
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

QUICK_ENV = "AIUSAGE_BENCH_CI"
"""Set to ``1`` for the quick mode CI uses: few, small rounds and no targets judged."""


def quick_from_env() -> bool:
    """Whether the environment asks for the quick mode."""
    return os.environ.get(QUICK_ENV, "") not in ("", "0")


@dataclass(frozen=True)
class Pair:
    """Seconds per call of a baseline and a subject, from interleaved rounds."""

    baseline: float
    """Best (minimum) seconds per call of the baseline."""
    subject: float
    """Best (minimum) seconds per call of the subject."""
    baseline_median: float
    """Median seconds per call of the baseline over the rounds."""
    subject_median: float
    """Median seconds per call of the subject over the rounds."""
    rounds: int
    """Rounds of each."""
    number: int
    """Calls per round."""

    @property
    def ratio(self) -> float:
        """Best subject / best baseline: the figure judged against a target."""
        return self.subject / self.baseline

    @property
    def median_ratio(self) -> float:
        """Median subject / median baseline: how far the noise moved it."""
        return self.subject_median / self.baseline_median

    @property
    def overhead(self) -> float:
        """Seconds the subject adds per call (best against best)."""
        return self.subject - self.baseline


def _round(fn: Callable[[], object], number: int, clock: Callable[[], float]) -> float:
    loop = range(number)
    start = clock()
    for _ in loop:
        fn()
    return (clock() - start) / number


def interleaved(
    baseline: Callable[[], object],
    subject: Callable[[], object],
    *,
    number: int,
    rounds: int,
    clock: Callable[[], float] = time.perf_counter,
    setup: Callable[[], Callable[[], None]] | None = None,
) -> Pair:
    """Time ``baseline`` and ``subject`` in alternating rounds of ``number`` calls each.

    ``setup``, when given, runs before every round (untimed) and returns a function run after
    it (untimed): e.g. a fresh usage context per round, so records kept by a long-lived one
    do not make later rounds pay for the garbage collector walking them.
    """
    baseline(), subject()  # warm up caches (pricing, imports, the SDK's lazy parts)
    gc.collect()
    times: tuple[list[float], list[float]] = ([], [])
    for i in range(rounds):
        # Alternate which goes first, so neither always runs right after a collection.
        order = ((0, baseline), (1, subject)) if i % 2 == 0 else ((1, subject), (0, baseline))
        for slot, fn in order:
            teardown = setup() if setup is not None else None
            try:
                times[slot].append(_round(fn, number, clock))
            finally:
                if teardown is not None:
                    teardown()
    return Pair(
        baseline=min(times[0]),
        subject=min(times[1]),
        baseline_median=statistics.median(times[0]),
        subject_median=statistics.median(times[1]),
        rounds=rounds,
        number=number,
    )


def paired(
    baseline: Callable[[], object],
    subject: Callable[[], object],
    *,
    calls: int,
    clock: Callable[[], float] = time.perf_counter,
) -> Pair:
    """Time ``baseline`` and ``subject`` call by call, alternately (A B, B A, A B, ...).

    For calls long enough to time one by one (a millisecond-scale SDK call): each pair sees
    the same machine, so the median of the per-pair differences is the subject's overhead,
    robust to the load drifting meanwhile; best-of-rounds ratios of such calls jump by 10%
    on a shared machine. The returned :class:`Pair` has ``subject = baseline median +
    median difference`` as its best figures, and the plain medians.
    """
    baseline(), subject()
    gc.collect()
    base: list[float] = []
    differences: list[float] = []
    for i in range(calls):
        if i % 2 == 0:
            t0 = clock()
            baseline()
            t1 = clock()
            subject()
            t2 = clock()
            b, s = t1 - t0, t2 - t1
        else:
            t0 = clock()
            subject()
            t1 = clock()
            baseline()
            t2 = clock()
            s, b = t1 - t0, t2 - t1
        base.append(b)
        differences.append(s - b)
    base_median = statistics.median(base)
    difference = statistics.median(differences)
    return Pair(
        baseline=base_median,
        subject=base_median + difference,
        baseline_median=base_median,
        subject_median=statistics.median(b + d for b, d in zip(base, differences, strict=True)),
        rounds=calls,
        number=1,
    )


def load_average() -> str:
    """The 1-minute load average, as text (``"n/a"`` where unknown)."""
    try:
        return f"{os.getloadavg()[0]:.2f}"
    except OSError:  # pragma: no cover - not Unix
        return "n/a"


def format_seconds(seconds: float) -> str:
    """``seconds`` in the unit that reads best (ns, us, ms or s)."""
    for unit, scale in (("ns", 1e9), ("us", 1e6), ("ms", 1e3)):
        if seconds * scale < 10_000:
            return (
                f"{seconds * scale:,.0f} {unit}"
                if unit == "ns"
                else f"{seconds * scale:,.1f} {unit}"
            )
    return f"{seconds:,.2f} s"
