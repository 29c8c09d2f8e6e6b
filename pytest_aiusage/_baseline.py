"""Cost baselines: save every test's AI usage under a name, compare a later run with it, and
fail the run when a test regresses past a threshold (like pytest-benchmark's
``--benchmark-compare-fail``).

Only the process that reports (a serial run, or the xdist controller) saves and compares: it
receives every test's figures and holds them in node id order, so a baseline saved under
xdist is the one a serial run saves. Workers do nothing here.

A baseline file (``<aiusage_baseline_dir>/NAME.json``)::

    {"format": "pytest-aiusage-baseline", "version": 1, "name": "main",
     "run": {"genai_prices_version": "0.2.3", "pytest_aiusage_version": "0.1.0",
             "python_version": "3.11.9", "timestamp": "2025-06-01T10:00:00+00:00",
             "git_commit": "<sha>" or null},
     "totals": {...},
     "tests": [{"nodeid": "...", "calls": 1, "input_tokens": 1000, ..., "cost_usd": "0.00045",
                "unpriced_calls": 0, "models": ["gpt-4o-mini"]}, ...]}
"""

from __future__ import annotations

import json
import os
import platform
import re
import subprocess
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime, timezone
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest

from aiusage_core import ConfigurationError, UsageTotals
from aiusage_core._money import cost_column, cost_text, decimal_str, decimals, usd

from ._files import write_atomically
from ._format import count, plural
from ._options import option_group
from ._report import write_summary
from ._results import SessionUsage, totals_from_dict, totals_to_dict

__all__ = [
    "BASELINE_FORMAT",
    "BASELINE_SETTINGS",
    "BASELINE_VERSION",
    "DEFAULT_BASELINE_DIR",
    "METRICS",
    "Baseline",
    "BaselineReporter",
    "BaselineSettings",
    "Comparison",
    "Figures",
    "Regression",
    "RunInfo",
    "Threshold",
    "add_baseline_options",
    "compare",
    "comparison_lines",
    "load_baseline",
    "metric_value",
    "parse_thresholds",
    "percent_change",
    "read_baseline_settings",
    "register_baselines",
    "save_baseline",
]

BASELINE_FORMAT = "pytest-aiusage-baseline"
"""The ``format`` field of a baseline file, telling it apart from other JSON."""
BASELINE_VERSION = 1
"""The ``version`` of the baseline file; bumped only when a field is removed or changes meaning."""
DEFAULT_BASELINE_DIR = ".aiusage/baselines"
"""Where baselines go, relative to the rootdir, unless ini ``aiusage_baseline_dir`` says."""

TITLE = "AI usage baseline"

HELP_SAVE = (
    "save every test's AI usage (calls, tokens, cost, models) as the baseline NAME, in "
    "<aiusage_baseline_dir>/NAME.json."
)
HELP_COMPARE = (
    "compare every test's AI usage with the baseline NAME (or a baseline JSON file) and show "
    "the tests that changed in the summary."
)
# argparse formats help text with %, hence %% (shown as %).
HELP_COMPARE_FAIL = (
    "with --aiusage-compare: fail the run when a test regresses past EXPR, "
    "<metric>:<threshold> with metric usd, tokens, input_tokens, output_tokens or calls and "
    "threshold a percentage (usd:10%%) or an absolute amount (usd:0.001, calls:0). "
    "Repeatable; comma-separated lists too."
)
HELP_BASELINE_DIR = (
    "directory of the baselines --aiusage-save writes and --aiusage-compare reads, relative "
    f"to the rootdir (default {DEFAULT_BASELINE_DIR})."
)

METRICS: Mapping[str, tuple[str, Callable[[UsageTotals], int | Decimal]]] = MappingProxyType(
    {
        "usd": ("cost", lambda t: t.cost_usd),
        "tokens": ("tokens", lambda t: t.total_tokens),
        "input_tokens": ("input tokens", lambda t: t.input_tokens),
        "output_tokens": ("output tokens", lambda t: t.output_tokens),
        "calls": ("calls", lambda t: t.calls),
    }
)
"""What ``--aiusage-compare-fail`` can check: ``metric -> (words for messages, value)``."""

# A name is one path component that is safe on every OS and never hidden ("." first) nor
# "..": letters, digits and a few punctuation marks.
_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.+-]*")
_THRESHOLD = re.compile(r"\s*([A-Za-z_]+)\s*:\s*([0-9]*\.?[0-9]+)\s*(%?)\s*")
_GIT_COMMIT = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
_GIT_TIMEOUT_S = 2.0
_EMPTY = UsageTotals()


def add_baseline_options(parser: pytest.Parser) -> None:
    """Register ``--aiusage-save``, ``--aiusage-compare``, ``--aiusage-compare-fail`` and
    the ``aiusage_baseline_dir`` ini key, in the ``aiusage`` group.

    The three options are command-line only: they name one run's baseline, and an ini key
    would make every run save or compare.
    """
    group = option_group(parser)
    group.addoption(
        "--aiusage-save", metavar="NAME", dest="aiusage_save", default=None, help=HELP_SAVE
    )
    group.addoption(
        "--aiusage-compare",
        metavar="NAME_OR_PATH",
        dest="aiusage_compare",
        default=None,
        help=HELP_COMPARE,
    )
    group.addoption(
        "--aiusage-compare-fail",
        metavar="EXPR",
        dest="aiusage_compare_fail",
        action="append",
        default=[],
        help=HELP_COMPARE_FAIL,
    )
    parser.addini(
        "aiusage_baseline_dir", HELP_BASELINE_DIR, type="string", default=DEFAULT_BASELINE_DIR
    )


# -- thresholds ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Threshold:
    """One ``--aiusage-compare-fail`` check: a test regresses when ``current - baseline`` of
    ``metric`` is more than ``amount`` (absolute) or ``amount`` percent of the baseline."""

    metric: str
    """``usd``, ``tokens``, ``input_tokens``, ``output_tokens`` or ``calls``."""
    amount: Decimal
    """The allowed increase: an absolute amount, or a percentage when ``percent``."""
    percent: bool
    """Whether ``amount`` is a percentage of the baseline figure."""

    def __str__(self) -> str:
        return f"{self.metric}:{decimal_str(self.amount)}{'%' if self.percent else ''}"

    def allowed(self, before: Decimal) -> Decimal:
        """The largest increase over ``before`` that does not regress (a percentage of a zero
        baseline allows none)."""
        return before * self.amount / 100 if self.percent else self.amount

    def exceeded(self, before: UsageTotals, after: UsageTotals) -> bool:
        """Whether going from ``before`` to ``after`` regresses past this threshold."""
        old, new = metric_value(before, self.metric), metric_value(after, self.metric)
        return new - old > self.allowed(old)


def metric_value(totals: UsageTotals, metric: str) -> Decimal:
    """The figure ``metric`` (``usd``, ``tokens``, ...) of ``totals``."""
    return Decimal(METRICS[metric][1](totals))


def parse_thresholds(
    values: Iterable[str], label: str = "--aiusage-compare-fail"
) -> tuple[Threshold, ...]:
    """Parse ``usd:10%``, ``tokens:5%,calls:0``, ... (one string per use of the option);
    a bad one raises :class:`~aiusage_core.ConfigurationError` naming it."""
    thresholds: list[Threshold] = []
    for value in values:
        pieces = [p for p in value.split(",") if p.strip()]
        if not pieces:
            raise ConfigurationError(
                f"{label}={value!r} is empty; expected <metric>:<threshold>, e.g. usd:10%",
                name=label,
                value=value,
            )
        thresholds.extend(_parse_threshold(piece.strip(), label) for piece in pieces)
    return tuple(thresholds)


def _parse_threshold(text: str, label: str) -> Threshold:
    metrics = ", ".join(METRICS)
    match = _THRESHOLD.fullmatch(text)
    if match is None:
        raise ConfigurationError(
            f"{label}={text!r} is not <metric>:<threshold>: expected e.g. usd:10%, tokens:5%, "
            f"calls:0 or usd:0.001 (metrics: {metrics}; threshold: a non-negative number, "
            f"with % for a percentage of the baseline)",
            name=label,
            value=text,
        )
    metric, number, percent = match.group(1).lower(), match.group(2), bool(match.group(3))
    if metric not in METRICS:
        raise ConfigurationError(
            f"{label}={text!r}: unknown metric {match.group(1)!r} (metrics: {metrics})",
            name=label,
            value=text,
        )
    amount = Decimal(number)  # the pattern lets only plain non-negative numbers through
    if metric != "usd" and not percent and amount != amount.to_integral_value():
        raise ConfigurationError(
            f"{label}={text!r}: an absolute threshold of {metric} must be a whole number",
            name=label,
            value=text,
        )
    return Threshold(metric, amount, percent)


# -- what a baseline holds ---------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Figures:
    """One test's figures in a baseline (or in the current run)."""

    nodeid: str
    """The test's node id."""
    totals: UsageTotals = _EMPTY
    """Sums over the test's calls."""
    models: tuple[str, ...] = ()
    """The models the test called, in alphabetical order."""

    def to_dict(self) -> dict[str, Any]:
        """The JSON form: ``nodeid``, the totals' fields (cost as a decimal string),
        ``models``."""
        return {"nodeid": self.nodeid, **totals_to_dict(self.totals), "models": list(self.models)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Figures:
        """Rebuild from :meth:`to_dict` output."""
        models = data.get("models") or []
        if not isinstance(models, list) or not all(isinstance(m, str) for m in models):
            raise ValueError(f"models of {data.get('nodeid')!r} must be a list of model ids")
        return cls(
            nodeid=str(data["nodeid"]),
            totals=totals_from_dict(data),
            models=tuple(models),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class RunInfo:
    """Where a baseline's figures come from; each field ``None`` when unknown."""

    genai_prices_version: str | None = None
    """The genai-prices version that priced the calls (prices change between versions)."""
    pytest_aiusage_version: str | None = None
    """The pytest-aiusage version that measured them."""
    python_version: str | None = None
    """The Python version of the run."""
    timestamp: str | None = None
    """When the baseline was saved, ISO 8601 in UTC."""
    git_commit: str | None = None
    """``git rev-parse HEAD`` in the rootdir, if that answered at once."""

    @classmethod
    def current(cls, rootpath: Path, *, git: bool = True) -> RunInfo:
        """The run going on now (asking git for the commit only when ``git``)."""
        import genai_prices

        from . import __version__

        return cls(
            genai_prices_version=str(genai_prices.__version__),
            pytest_aiusage_version=__version__,
            python_version=platform.python_version(),
            timestamp=datetime.now(timezone.utc).isoformat(timespec="seconds"),
            git_commit=_git_commit(rootpath) if git else None,
        )

    def to_dict(self) -> dict[str, str | None]:
        """The JSON form (every field, ``null`` when unknown)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunInfo:
        """Rebuild from :meth:`to_dict` output (missing fields are unknown)."""
        values = {f.name: data.get(f.name) for f in fields(cls)}
        return cls(**{name: None if v is None else str(v) for name, v in values.items()})


def _git_commit(rootpath: Path) -> str | None:
    # Best effort: a baseline is as useful without it, so a missing git, a directory that is
    # no repository or a slow filesystem just leave it unknown.
    try:
        done = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=rootpath,
            capture_output=True,
            text=True,
            timeout=_GIT_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    commit = done.stdout.strip()
    return commit if done.returncode == 0 and _GIT_COMMIT.fullmatch(commit) else None


@dataclass(frozen=True, slots=True, kw_only=True)
class Baseline:
    """Every test's figures of one run, with where they come from."""

    name: str
    """The name it was saved under."""
    run: RunInfo = field(default_factory=RunInfo)
    """Versions, time and commit of the run."""
    tests: Mapping[str, Figures] = field(default_factory=lambda: MappingProxyType({}))
    """Figures by node id, in node id order."""

    @classmethod
    def of_usage(cls, name: str, usage: SessionUsage, run: RunInfo) -> Baseline:
        """The tests of a session's usage (fixtures and stray calls are not any test's)."""
        tests: dict[str, Figures] = {}
        for node in usage.tests:
            # A test reported twice (e.g. rerun by pytest-rerunfailures): its last run counts.
            tests[node.nodeid] = Figures(
                nodeid=node.nodeid,
                totals=node.totals,
                models=tuple(m for m, t in node.by_model.items() if _served(t)),
            )
        return cls(name=name, run=run, tests=MappingProxyType(tests))

    @property
    def totals(self) -> UsageTotals:
        """Sums over the tests."""
        total = _EMPTY
        for figures in self.tests.values():
            if figures.totals.calls:
                total = total + figures.totals
        return total

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (see the module docstring)."""
        return {
            "format": BASELINE_FORMAT,
            "version": BASELINE_VERSION,
            "name": self.name,
            "run": self.run.to_dict(),
            "totals": totals_to_dict(self.totals),
            "tests": [figures.to_dict() for figures in self.tests.values()],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Baseline:
        """Rebuild from :meth:`to_dict` output; raises ``ValueError`` (or ``KeyError``,
        ``TypeError``) when it is not a baseline this version reads."""
        if not isinstance(data, Mapping) or data.get("format") != BASELINE_FORMAT:
            raise ValueError(
                f'it has no "format": {BASELINE_FORMAT!r} field (an --aiusage-json report is '
                f"not a baseline: save one with --aiusage-save)"
            )
        version = data.get("version")
        if version != BASELINE_VERSION:
            raise ValueError(
                f"its version {version!r} is not supported (expected {BASELINE_VERSION})"
            )
        raw_tests = data.get("tests")
        if not isinstance(raw_tests, list):
            raise ValueError('its "tests" is not a list')
        tests = {}
        for entry in raw_tests:
            figures = Figures.from_dict(entry)
            tests[figures.nodeid] = figures
        return cls(
            name=str(data.get("name", "")),
            run=RunInfo.from_dict(data.get("run") or {}),
            tests=MappingProxyType(tests),
        )


def save_baseline(path: Path, baseline: Baseline) -> None:
    """Write ``baseline`` to ``path`` atomically: a reader (or a crash) sees the old file or
    the new one, never a part of it."""
    write_atomically(path, json.dumps(baseline.to_dict(), indent=2) + "\n")


def load_baseline(path: Path, label: str) -> Baseline:
    """Read the baseline at ``path``; ``label`` (e.g. ``--aiusage-compare='main'``) names
    where it was asked for in the :class:`~aiusage_core.ConfigurationError` raised when it
    cannot be read."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigurationError(
            f"{label}: no baseline at {path}", name=label, value=str(path)
        ) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigurationError(
            f"{label}: cannot read the baseline {path}: {exc}", name=label, value=str(path)
        ) from None
    try:
        return Baseline.from_dict(data)
    except (ValueError, KeyError, TypeError) as exc:
        raise ConfigurationError(
            f"{label}: {path} is not a pytest-aiusage baseline this version can read: {exc}",
            name=label,
            value=str(path),
        ) from None


# -- comparing ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Regression:
    """A test that went past a threshold."""

    nodeid: str
    """The test."""
    threshold: Threshold
    """The threshold it went past."""
    before: UsageTotals
    """Its figures in the baseline."""
    after: UsageTotals
    """Its figures now."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Comparison:
    """A run compared with a baseline, test by test."""

    changed: tuple[tuple[Figures, Figures], ...] = ()
    """``(baseline, current)`` of the tests in both whose figures or models differ, the
    largest cost increase first."""
    unchanged: int = 0
    """How many tests in both did not change."""
    new: tuple[Figures, ...] = ()
    """Tests that ran now and are not in the baseline (listed, never failed)."""
    removed: tuple[Figures, ...] = ()
    """Tests in the baseline that did not run now."""
    regressions: tuple[Regression, ...] = ()
    """The tests past a threshold, once per threshold."""


def _served(totals: UsageTotals) -> bool:
    """Whether a model served any of these calls: not when every one failed with nothing
    billed (the API refused it, or the request never left the process), as such a call is
    filed under the model it asked for, which is no change of model."""
    return bool(
        totals.errors < totals.calls
        or totals.total_tokens
        or totals.unpriced_calls
        or totals.cost_usd
    )


def _differ(before: Figures, after: Figures) -> bool:
    return before.totals != after.totals or before.models != after.models


def compare(
    baseline: Baseline, current: Baseline, thresholds: Sequence[Threshold] = ()
) -> Comparison:
    """Compare ``current`` with ``baseline``; check the tests in both against ``thresholds``."""
    changed: list[tuple[Figures, Figures]] = []
    unchanged = 0
    regressions: list[Regression] = []
    for nodeid, after in current.tests.items():
        before = baseline.tests.get(nodeid)
        if before is None:
            continue
        if not _differ(before, after):
            unchanged += 1
            continue
        changed.append((before, after))
        regressions.extend(
            Regression(nodeid, threshold, before.totals, after.totals)
            for threshold in thresholds
            if threshold.exceeded(before.totals, after.totals)
        )
    changed.sort(
        key=lambda pair: (pair[0].totals.cost_usd - pair[1].totals.cost_usd, pair[1].nodeid)
    )
    return Comparison(
        changed=tuple(changed),
        unchanged=unchanged,
        new=tuple(f for nodeid, f in current.tests.items() if nodeid not in baseline.tests),
        removed=tuple(f for nodeid, f in baseline.tests.items() if nodeid not in current.tests),
        regressions=tuple(regressions),
    )


def _signed(value: int) -> str:
    return f"{value:+,}" if value else "0"


def percent_change(before: Decimal, after: Decimal) -> str:
    """``+3.3%``, ``0%``, ``+inf%`` (growth from zero)."""
    if before == after:
        return "0%"
    if not before:
        return "+inf%"  # growth from zero: any threshold percentage is exceeded
    change = ((after - before) * 100 / before).quantize(Decimal("0.1"), ROUND_HALF_EVEN)
    return f"{change:+,}%"


def _regression_line(regression: Regression) -> str:
    metric = regression.threshold.metric
    before, after = metric_value(regression.before, metric), metric_value(regression.after, metric)
    delta = after - before
    if metric == "usd":
        places = decimals([before, after, delta])
        old, new = usd(before, places), usd(after, places)
        signed = usd(delta, places, sign=True)
    else:
        old, new, signed = count(int(before)), count(int(after)), _signed(int(delta))
    return (
        f"  {regression.nodeid}: {METRICS[metric][0]} {old} -> {new} "
        f"({signed}, {percent_change(before, after)}) > {regression.threshold}"
    )


def _table(changed: Sequence[tuple[Figures, Figures]]) -> list[str]:
    header = ("test", "baseline cost", "current cost", "delta %", "tokens delta", "calls delta")
    rows = [header]
    notes = []
    # One money column format for both cost columns: the same decimals throughout.
    costs = cost_column([*(b.totals for b, _ in changed), *(a.totals for _, a in changed)])
    for i, (before, after) in enumerate(changed):
        b, a = before.totals, after.totals
        rows.append(
            (
                after.nodeid,
                costs[i],
                costs[len(changed) + i],
                percent_change(b.cost_usd, a.cost_usd),
                _signed(a.total_tokens - b.total_tokens),
                _signed(a.calls - b.calls),
            )
        )
        notes.append(_notes(before, after))
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = []
    for row, note in zip(rows, ["", *notes], strict=True):
        cells = [row[0].ljust(widths[0])]
        cells.extend(cell.rjust(width) for cell, width in zip(row[1:], widths[1:], strict=True))
        lines.append(("  " + "  ".join(cells)).rstrip() + note)
    return lines


def _notes(before: Figures, after: Figures) -> str:
    """What a row adds after its figures: a change of model, a change in failed calls."""
    notes = ""
    b, a = before.totals, after.totals
    # A side whose calls all failed before reaching a model (so none served it) is no change
    # of model: its failed calls say what happened.
    all_failed = (not before.models and b.calls) or (not after.models and a.calls)
    if before.models != after.models and not all_failed:
        notes += (
            f"  (models: {', '.join(before.models) or 'none'} -> "
            f"{', '.join(after.models) or 'none'})"
        )
    if b.errors != a.errors:
        notes += f"  (failed calls: {count(b.errors)} -> {count(a.errors)})"
    return notes


def comparison_lines(
    label: str,
    baseline: Baseline,
    current: Baseline,
    comparison: Comparison,
    thresholds: Sequence[Threshold] = (),
) -> list[str]:
    """The summary lines of a comparison; ``label`` names the baseline (e.g. ``'main'
    (.aiusage/baselines/main.json)``)."""
    run = baseline.run
    saved = f", saved {run.timestamp}" if run.timestamp else ""
    commit = f" at commit {run.git_commit[:12]}" if run.git_commit else ""
    lines = [f"compared with baseline {label}{saved}{commit}"]
    then, now = run.genai_prices_version, current.run.genai_prices_version
    if then != now:
        lines.append(
            f"warning: the baseline was priced with genai-prices {then or '(unknown version)'} "
            f"and this run with {now or '(unknown version)'}: prices may have moved, so a cost "
            f"delta may come from the price tables rather than from usage (token and call "
            f"deltas are unaffected)"
        )
    lines.append(
        f"tests: {len(comparison.changed)} changed, {comparison.unchanged} unchanged, "
        f"{len(comparison.new)} new, {len(comparison.removed)} removed (not run now)"
    )
    if comparison.changed:
        lines.extend(_table(comparison.changed))
    made_calls = [f for f in comparison.new if f.totals.calls]
    if made_calls:
        lines.append("new since the baseline (not compared):")
        places = decimals(f.totals.cost_usd for f in made_calls)
        lines.extend(
            f"  {f.nodeid}: {plural(f.totals.calls, 'call')}, "
            f"{count(f.totals.total_tokens)} tokens, {cost_text(f.totals, places)}"
            for f in made_calls
        )
    old, new = baseline.totals, current.totals
    places = decimals([old.cost_usd, new.cost_usd])
    lines.append(
        f"total: {cost_text(old, places)} -> {cost_text(new, places)} "
        f"({percent_change(old.cost_usd, new.cost_usd)}), "
        f"tokens {_signed(new.total_tokens - old.total_tokens)}, "
        f"calls {_signed(new.calls - old.calls)}"
    )
    if thresholds:
        limits = ", ".join(str(t) for t in thresholds)
        if comparison.regressions:
            lines.append(f"regressions past --aiusage-compare-fail {limits}:")
            lines.extend(_regression_line(r) for r in comparison.regressions)
            failed = len({r.nodeid for r in comparison.regressions})
            lines.append(
                f"AI usage regressed past --aiusage-compare-fail in {plural(failed, 'test')}: "
                f"the run fails"
            )
        else:
            lines.append(f"no test regressed past --aiusage-compare-fail {limits}")
    return lines


# -- the plugin's part -------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class BaselineSettings:
    """What the command line asked for, checked, with the baseline to compare with loaded."""

    save_name: str | None = None
    """``--aiusage-save``."""
    save_path: Path | None = None
    """Where the baseline is saved."""
    compare_label: str | None = None
    """How the summary names the baseline compared with."""
    baseline: Baseline | None = None
    """The baseline compared with (loaded when the session starts)."""
    thresholds: tuple[Threshold, ...] = ()
    """``--aiusage-compare-fail``."""


def _check_name(value: str, label: str) -> str:
    if not _NAME.fullmatch(value) or value.endswith(".json"):
        raise ConfigurationError(
            f"{label}={value!r} is not a baseline name: use letters, digits and . _ - + (not "
            f"starting with '.', without '.json' and without path separators); the baseline "
            f"is saved as <aiusage_baseline_dir>/NAME.json",
            name=label,
            value=value,
        )
    return value


def _baseline_dir(config: pytest.Config) -> Path:
    raw = str(config.getini("aiusage_baseline_dir") or "").strip() or DEFAULT_BASELINE_DIR
    return config.rootpath / raw


def _shown(path: Path, config: pytest.Config) -> str:
    try:
        return str(path.relative_to(config.rootpath))
    except ValueError:
        return str(path)


def read_baseline_settings(config: pytest.Config) -> BaselineSettings | None:
    """Check the baseline options and load the baseline to compare with; ``None`` when none
    is used. A bad value raises :class:`pytest.UsageError` naming it."""
    try:
        return _read(config)
    except ConfigurationError as exc:
        raise pytest.UsageError(str(exc)) from None


def _read(config: pytest.Config) -> BaselineSettings | None:
    save: str | None = config.getoption("aiusage_save")
    wanted: str | None = config.getoption("aiusage_compare")
    fail_exprs: list[str] = config.getoption("aiusage_compare_fail") or []
    thresholds = parse_thresholds(fail_exprs)
    if thresholds and wanted is None:
        raise ConfigurationError(
            f"--aiusage-compare-fail={fail_exprs[0]!r} needs a baseline to compare with: "
            f"add --aiusage-compare=NAME",
            name="--aiusage-compare-fail",
            value=fail_exprs[0],
        )
    if save is None and wanted is None:
        return None
    directory = _baseline_dir(config)
    save_path = None
    if save is not None:
        save_path = directory / f"{_check_name(save, '--aiusage-save')}.json"
    baseline = label = None
    if wanted is not None:
        option = f"--aiusage-compare={wanted!r}"
        if not wanted.strip():
            raise ConfigurationError(f"{option} is empty", name="--aiusage-compare", value=wanted)
        # A value with a path separator or a .json suffix is a file; anything else a name.
        is_path = wanted.endswith(".json") or any(
            sep and sep in wanted for sep in ("/", os.sep, os.altsep)
        )
        if is_path:
            path = config.invocation_params.dir / wanted
            label = str(path)
        else:
            path = directory / f"{_check_name(wanted, '--aiusage-compare')}.json"
            label = f"{wanted!r} ({_shown(path, config)})"
        baseline = load_baseline(path, option)
    return BaselineSettings(
        save_name=save,
        save_path=save_path,
        compare_label=label,
        baseline=baseline,
        thresholds=thresholds,
    )


class BaselineReporter:
    """Saves and compares at the end of the session, in the process that reports."""

    def __init__(
        self,
        config: pytest.Config,
        settings: BaselineSettings,
        usage: Callable[[], SessionUsage],
    ) -> None:
        self._config = config
        self._settings = settings
        self._usage = usage
        self._lines: list[str] = []

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        settings = self._settings
        run = RunInfo.current(self._config.rootpath, git=settings.save_path is not None)
        current = Baseline.of_usage(settings.save_name or "", self._usage(), run)
        failed = False
        if settings.baseline is not None and settings.compare_label is not None:
            comparison = compare(settings.baseline, current, settings.thresholds)
            self._lines.extend(
                comparison_lines(
                    settings.compare_label,
                    settings.baseline,
                    current,
                    comparison,
                    settings.thresholds,
                )
            )
            failed = bool(comparison.regressions)
        if settings.save_path is not None:
            failed = self._save(settings.save_path, current, session) or failed
        if failed and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def _save(self, path: Path, current: Baseline, session: pytest.Session) -> bool:
        """Save ``current``, say so; whether that failed."""
        name, shown = repr(current.name), _shown(path, self._config)
        # An empty or partial baseline would overwrite a good one and make every test that
        # did not run look new in the next comparison.
        if not current.tests:
            self._lines.append(f"no test ran: baseline {name} not saved")
            return False
        if session.exitstatus == pytest.ExitCode.INTERRUPTED:
            self._lines.append(f"the run was interrupted: baseline {name} not saved")
            return False
        try:
            save_baseline(path, current)
        except OSError as exc:
            self._lines.append(f"could not save the baseline to {shown}: {exc}")
            return True
        self._lines.append(
            f"saved baseline {name} to {shown} "
            f"({plural(len(current.tests), 'test')}, {cost_text(current.totals)})"
        )
        return False

    @pytest.hookimpl(trylast=True)
    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        write_summary(terminalreporter, self._lines, title=TITLE)


BASELINE_SETTINGS = pytest.StashKey[BaselineSettings]()
"""The checked baseline options, in ``config.stash`` when a baseline is saved or compared
with (the HTML and Markdown reports show the comparison too)."""


def register_baselines(config: pytest.Config, usage: Callable[[], SessionUsage]) -> None:
    """In the process that reports: check the baseline options and, when a baseline is saved
    or compared with, register the hooks that do it."""
    settings = read_baseline_settings(config)
    if settings is not None:
        config.stash[BASELINE_SETTINGS] = settings
        config.pluginmanager.register(BaselineReporter(config, settings, usage), "aiusage-baseline")
