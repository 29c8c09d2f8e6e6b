"""What the pytest plugin costs: 1,000 trivial tests with it, and with ``-p no:aiusage``.

Run it from the repository root::

    python benchmarks/bench_plugin.py            # 5 rounds, 1,000 tests
    python benchmarks/bench_plugin.py --rounds 9 --tests 2000

Each round runs the suite once in each mode, alternating, in fresh subprocesses; the best
round of each mode is compared, which filters out noise from other work on the machine. Two
figures are reported:

* wall: the whole ``python -m pytest`` process, start-up and imports included;
* cpu: that process's user + system CPU time, which other work on a shared machine
  disturbs much less than wall time;
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
import subprocess
import sys
import tempfile
import time
from pathlib import Path

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


def _measure(tests: int, rounds: int, imports_core: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        _write_suite(folder, tests, imports_core)
        _run(folder, plugin=True)  # warm the file system and byte-code caches
        results: dict[bool, list[tuple[float, float, float]]] = {True: [], False: []}
        for _ in range(rounds):
            for plugin in (False, True):
                results[plugin].append(_run(folder, plugin))
    best = {
        mode: [min(column) for column in zip(*runs, strict=True)] for mode, runs in results.items()
    }
    suite = "suite importing aiusage_core" if imports_core else "bare suite"
    print(f"{tests} trivial tests, {suite}, best of {rounds} rounds")
    print(f"  {'':14} {'wall':>8} {'cpu':>8} {'session':>8}")
    for label, mode in (("-p no:aiusage", False), ("with plugin", True)):
        print(f"  {label:14}" + "".join(f" {v:7.2f}s" for v in best[mode]))
    ratios = [on / off for on, off in zip(best[True], best[False], strict=True)]
    print(f"  {'ratio':14}" + "".join(f" {r:8.3f}" for r in ratios))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tests", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    options = parser.parse_args()
    for imports_core in (False, True):
        _measure(options.tests, options.rounds, imports_core)


if __name__ == "__main__":
    main()
