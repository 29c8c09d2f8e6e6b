"""pytest-benchmark setup for the benchmark suite, and the table of figures at the end.

Run from the repository root (docs/performance.md has the figures and the commands)::

    python -m pytest benchmarks -p no:cacheprovider                      # the real run
    python -m pytest benchmarks -q -p no:cacheprovider --benchmark-disable  # CI quick mode

Every ``bench_*.py`` file here is collected (pytest's default pattern is ``test_*.py``).
pytest-benchmark times each subject in its usual table; on top of that, a benchmark that has
a natural baseline measures both side by side in interleaved rounds (see ``_measure.py``)
and records the ratio in ``benchmark.extra_info`` and in the summary printed at the end,
with its target. With ``--benchmark-disable`` (or ``AIUSAGE_BENCH_CI=1``) everything runs
once, small, to show the benchmarks still work; no target is judged then.
``--check-targets`` fails a benchmark whose figure misses its target (off by default: a
loaded machine can push a figure over, and the figures are there to be read).
"""

from __future__ import annotations

import datetime
import os
import platform
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pytest
from _measure import Pair, format_seconds, interleaved, load_average, paired, quick_from_env

from aiusage_core import configure, flush

Goal = Literal["at most", "at least", "info"]


@dataclass(frozen=True)
class Figure:
    """One measured figure, with its target."""

    name: str
    value: float
    unit: str  # "x" for a ratio, or the unit of the value
    goal: Goal
    target: float | None
    detail: str
    quick: bool

    @property
    def met(self) -> bool | None:
        """Whether the target is met (``None``: no target, or not judged in quick mode)."""
        if self.quick or self.target is None or self.goal == "info":
            return None
        if self.goal == "at most":
            return self.value <= self.target
        return self.value >= self.target

    def value_text(self) -> str:
        """The value with its unit."""
        if self.unit == "x":
            return f"{self.value:.2f}x"
        return (
            f"{self.value:,.1f} {self.unit}"
            if self.value < 100
            else f"{self.value:,.0f} {self.unit}"
        )

    def target_text(self) -> str:
        """The target with its direction."""
        if self.target is None or self.goal == "info":
            return "-"
        sign = "<=" if self.goal == "at most" else ">="
        unit = "x" if self.unit == "x" else f" {self.unit}"
        return f"{sign} {self.target:,g}{unit}"


_FIGURES = pytest.StashKey[list[Figure]]()
_STARTED = pytest.StashKey[tuple[str, str]]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("aiusage benchmarks")
    group.addoption(
        "--check-targets",
        action="store_true",
        default=False,
        help="fail a benchmark whose figure misses its target (not in quick mode)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.stash[_FIGURES] = []
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    config.stash[_STARTED] = (now, load_average())


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Module | None:
    # Named files on the command line are collected by pytest itself: do not add them twice.
    if (
        file_path.suffix == ".py"
        and file_path.name.startswith("bench_")
        and not parent.session.isinitpath(file_path)
    ):
        module: pytest.Module = pytest.Module.from_parent(parent, path=file_path)
        return module
    return None


def is_quick(config: pytest.Config) -> bool:
    """Quick mode: ``--benchmark-disable`` or ``AIUSAGE_BENCH_CI=1``."""
    return bool(config.getoption("benchmark_disable", False)) or quick_from_env()


@pytest.fixture
def quick(request: pytest.FixtureRequest) -> bool:
    """Whether this is the quick (CI) mode: run everything once, small."""
    return is_quick(request.config)


@pytest.fixture(autouse=True)
def _default_settings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Each benchmark starts from default settings, no sinks, fixed environment tags; spools
    of failing sinks go to a temporary folder."""
    spool = tmp_path_factory.mktemp("spool")
    with configure(
        sinks=[], environment={"environment": "benchmark", "ci": False}, spool_dir=str(spool)
    ):
        yield
        flush()


class Figures:
    """Records figures of one benchmark in ``benchmark.extra_info`` and the final summary."""

    def __init__(self, config: pytest.Config, benchmark: Any, quick: bool) -> None:
        self._config = config
        self._benchmark = benchmark
        self.quick = quick

    def record(
        self,
        name: str,
        value: float,
        *,
        unit: str,
        goal: Goal = "info",
        target: float | None = None,
        detail: str = "",
    ) -> Figure:
        """Record a figure; with ``--check-targets``, fail if it misses its target."""
        figure = Figure(name, value, unit, goal, target, detail, self.quick)
        self._benchmark.extra_info[name] = {
            "value": value,
            "unit": unit,
            "goal": goal,
            "target": target,
            "met": figure.met,
            "detail": detail,
        }
        self._config.stash[_FIGURES].append(figure)
        if figure.met is False and self._config.getoption("check_targets"):
            pytest.fail(f"{name}: {figure.value_text()} misses the target {figure.target_text()}")
        return figure

    def compare(
        self,
        name: str,
        baseline: Callable[[], object],
        subject: Callable[[], object],
        *,
        baseline_name: str,
        target: float | None = None,
        number: int = 1,
        rounds: int = 31,
        setup: Callable[[], Callable[[], None]] | None = None,
        paired_calls: int | None = None,
    ) -> Pair:
        """Time ``subject`` against ``baseline`` and record the ratio.

        By default in interleaved rounds of ``number`` calls (best round of each); with
        ``paired_calls``, call by call in alternation (median of the pairs' differences),
        for calls long enough to time one by one.
        """
        if paired_calls is not None:
            calls = 4 if self.quick else paired_calls
            pair = paired(baseline, subject, calls=calls)
            how = f"median of {calls:,} paired calls"
        else:
            if self.quick:
                number, rounds = max(1, min(number, 20)), 2
            pair = interleaved(baseline, subject, number=number, rounds=rounds, setup=setup)
            how = f"best of {rounds} rounds x {number:,}; median ratio {pair.median_ratio:.2f}x"
        self.record(
            name,
            pair.ratio,
            unit="x",
            goal="at most" if target is not None else "info",
            target=target,
            detail=(
                f"{format_seconds(pair.subject)} vs {format_seconds(pair.baseline)} "
                f"({baseline_name}); {how}"
            ),
        )
        return pair


@pytest.fixture
def figures(request: pytest.FixtureRequest, benchmark: Any, quick: bool) -> Figures:
    """Record figures (ratios to a baseline, throughputs) of this benchmark."""
    return Figures(request.config, benchmark, quick)


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    found = config.stash.get(_FIGURES, [])
    if not found:
        return
    started, load_before = config.stash[_STARTED]
    write = terminalreporter.write_line
    quick = any(f.quick for f in found)
    terminalreporter.section("aiusage benchmark figures" + (" (quick mode)" if quick else ""))
    write(
        f"{started}; {platform.python_implementation()} {platform.python_version()}; "
        f"{os.cpu_count() or '?'} cores; load average {load_before} at start, "
        f"{load_average()} at end"
    )
    width = max(len(f.name) for f in found)
    write(f"{'figure':<{width}}  {'measured':>14}  {'target':>14}  status  detail")
    for f in found:
        status = {True: "met", False: "MISSED", None: "-"}[f.met]
        write(
            f"{f.name:<{width}}  {f.value_text():>14}  {f.target_text():>14}  {status:<6}  "
            f"{f.detail}"
        )
    if quick:
        write("quick mode: tiny rounds on a shared machine; the figures are not meaningful")
