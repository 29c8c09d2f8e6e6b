"""What the pytest plugin costs: 1,000 trivial tests with it, and with ``-p no:aiusage``.

Run it from the repository root::

    python -m pytest benchmarks/bench_plugin.py -p no:cacheprovider   # with the whole suite
    python benchmarks/bench_plugin.py            # 5 rounds, 1,000 tests
    python benchmarks/bench_plugin.py --rounds 9 --tests 2000

Each round runs the suite once in each mode, alternating which goes first, in fresh
subprocesses. Both runs of a round see the same machine, so the median over rounds of each
round's ratio is the figure (the best round of each mode is shown too). Three figures:

* wall: the whole ``python -m pytest`` process, start-up and imports included;
* cpu: that process's user + system CPU time, which other work on a shared machine
  disturbs much less than wall time (the figure judged against the target, at most 1.10x);
* session: pytest's own "in N s" figure, the time from collection to the end of the run.

Two suites are measured: bare trivial tests, where the plugin's import of ``aiusage_core``
(and whatever that imports) counts against it, and the same tests with a ``conftest.py``
that imports ``aiusage_core`` as the code under test of a suite using the library would, so
only the plugin's own cost remains. The other installed pytest plugins are turned off in
both modes, so the comparison is with bare pytest (the least favourable baseline for us).
"""

from __future__ import annotations

import argparse
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, NamedTuple

import pytest

OTHER_PLUGINS = ("cacheprovider", "benchmark", "hypothesispytest", "pytest_httpserver", "recording")
_SESSION_TIME = re.compile(r" in (\d+\.\d+)s")


def _write_suite(folder: Path, tests: int, imports_core: bool) -> None:
    per_module = 100
    for module in range(0, tests, per_module):
        body = "".join(
            f"def test_{n}():\n    assert True\n\n\n"
            for n in range(module, min(module + per_module, tests))
        )
        (folder / f"test_trivial_{module // per_module:03d}.py").write_text(body)
    (folder / "pytest.ini").write_text("[pytest]\n")
    if imports_core:
        (folder / "conftest.py").write_text("import aiusage_core  # the code under test uses it\n")


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _run(folder: Path, plugin: bool) -> tuple[float, float, float]:
    args = [sys.executable, "-m", "pytest", "-q", "-p", "no:xdist"]
    for name in OTHER_PLUGINS:
        args += ["-p", f"no:{name}"]
    if not plugin:
        args += ["-p", "no:aiusage"]
    cpu, start = _cpu(), time.perf_counter()
    done = subprocess.run(args, cwd=folder, capture_output=True, text=True, check=False)
    wall, cpu = time.perf_counter() - start, _cpu() - cpu
    if done.returncode != 0:
        raise SystemExit(f"pytest failed:\n{done.stdout}\n{done.stderr}")
    found = _SESSION_TIME.findall(done.stdout)
    return wall, cpu, float(found[-1]) if found else float("nan")


Timings = tuple[float, float, float]  # wall, cpu, session seconds


class Measured(NamedTuple):
    """Figures of both modes over the rounds."""

    best: dict[bool, Timings]
    """The best wall, cpu and session seconds of each mode (``True``: with the plugin)."""
    paired: Timings
    """The median over rounds of each round's with/without ratio of wall, cpu and session:
    both runs of a round see the same machine, so this moves least with the load."""


def measure(tests: int, rounds: int, imports_core: bool) -> Measured:
    """Run the suite ``rounds`` times in each mode, alternating which goes first."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        _write_suite(folder, tests, imports_core)
        _run(folder, plugin=True)  # warm the file system and byte-code caches
        results: dict[bool, list[Timings]] = {True: [], False: []}
        for i in range(rounds):
            for plugin in (False, True) if i % 2 == 0 else (True, False):
                results[plugin].append(_run(folder, plugin))
    best = {
        mode: [min(column) for column in zip(*runs, strict=True)] for mode, runs in results.items()
    }
    ratios = [
        statistics.median(
            on[k] / off[k] for on, off in zip(results[True], results[False], strict=True)
        )
        for k in range(3)
    ]
    return Measured(
        best={mode: (b[0], b[1], b[2]) for mode, b in best.items()},
        paired=(ratios[0], ratios[1], ratios[2]),
    )


def suite_name(imports_core: bool) -> str:
    """How the report names a suite."""
    return "suite importing aiusage_core" if imports_core else "bare suite"


def _report(tests: int, rounds: int, imports_core: bool) -> None:
    measured = measure(tests, rounds, imports_core)
    best = measured.best
    print(f"{tests} trivial tests, {suite_name(imports_core)}, best of {rounds} rounds")
    print(f"  {'':14} {'wall':>8} {'cpu':>8} {'session':>8}")
    for label, mode in (("-p no:aiusage", False), ("with plugin", True)):
        print(f"  {label:14}" + "".join(f" {v:7.2f}s" for v in best[mode]))
    ratios = [on / off for on, off in zip(best[True], best[False], strict=True)]
    print(f"  {'ratio of bests':14}" + "".join(f" {r:8.3f}" for r in ratios))
    print(f"  {'median ratio':14}" + "".join(f" {r:8.3f}" for r in measured.paired))


# -- pytest-benchmark ----------------------------------------------------------------------


@pytest.mark.parametrize("imports_core", [False, True], ids=["bare", "importing-core"])
def test_plugin_overhead(benchmark: Any, figures: Any, quick: bool, imports_core: bool) -> None:
    benchmark.group = "pytest plugin on trivial tests"
    tests, rounds = (50, 1) if quick else (1_000, 7)
    found: list[Measured] = []
    benchmark.pedantic(
        lambda: found.append(measure(tests, rounds, imports_core)), rounds=1, iterations=1
    )
    best, (wall, cpu, session) = found[0]
    figures.record(
        f"plugin, {tests:,} trivial tests, {suite_name(imports_core)}",
        cpu,
        unit="x",
        goal="at most",
        target=1.10,
        detail=(
            f"CPU time, median of {rounds} paired rounds (best: {best[True][1]:.2f} s vs "
            f"{best[False][1]:.2f} s with -p no:aiusage); wall {wall:.2f}x, session "
            f"{session:.2f}x"
        ),
    )


def main() -> None:
    """Print the figures of both suites."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tests", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    options = parser.parse_args()
    for imports_core in (False, True):
        _report(options.tests, options.rounds, imports_core)


if __name__ == "__main__":
    main()
