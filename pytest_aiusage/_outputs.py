"""Writing the HTML report and the Markdown summary at the end of a session (in the process
that reports), with the baseline comparison when ``--aiusage-compare`` is used."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ._baseline import BASELINE_SETTINGS, Baseline, Comparison, RunInfo, compare, percent_change
from ._files import write_atomically
from ._html import Delta, delta_text, render_html
from ._markdown import render_markdown
from ._options import Options
from ._results import SessionUsage

__all__ = ["GITHUB_SUMMARY_ENV", "write_outputs"]

GITHUB_SUMMARY_ENV = "GITHUB_STEP_SUMMARY"
"""The environment variable naming the file GitHub Actions shows on the job's page."""


def _comparison(config: pytest.Config, usage: SessionUsage) -> tuple[Comparison, str] | None:
    settings = config.stash.get(BASELINE_SETTINGS, None)
    if settings is None or settings.baseline is None:
        return None
    current = Baseline.of_usage("", usage, RunInfo())
    note = f"Changes since the baseline {settings.compare_label}."
    return compare(settings.baseline, current, settings.thresholds), note


def _deltas(comparison: Comparison) -> dict[str, Delta]:
    regressed = {r.nodeid for r in comparison.regressions}
    deltas: dict[str, Delta] = {
        after.nodeid: (
            delta_text(
                before.totals,
                after.totals,
                percent_change(before.totals.cost_usd, after.totals.cost_usd),
            ),
            after.nodeid in regressed,
        )
        for before, after in comparison.changed
    }
    deltas.update((f.nodeid, ("new", False)) for f in comparison.new)
    return deltas


def write_outputs(config: pytest.Config, options: Options, usage: SessionUsage) -> list[str]:
    """Write the HTML report and the Markdown summary that were asked for; the lines saying
    what was written or, starting with ``error:``, what could not be."""
    compared = _comparison(config, usage)
    comparison = compared[0] if compared is not None else None
    lines: list[str] = []
    if options.html_path is not None:
        page = render_html(
            usage,
            deltas=_deltas(comparison) if comparison is not None else None,
            baseline_note=compared[1] if compared is not None else None,
        )
        lines.append(_write(options.html_path, page, "HTML report"))
    github = os.environ.get(GITHUB_SUMMARY_ENV, "").strip()
    if options.summary_path is None and not github:
        return lines
    markdown = render_markdown(usage, top=options.top, comparison=comparison)
    if options.summary_path is not None:
        lines.append(_write(options.summary_path, markdown, "Markdown summary"))
    if github:
        try:
            # Append: other steps and tools write their own sections to the same file.
            with open(github, "a", encoding="utf-8") as file:
                file.write(markdown + "\n")
        except OSError as exc:
            lines.append(
                f"error: the Markdown summary could not be added to ${GITHUB_SUMMARY_ENV}"
                f" ({github}): {exc}"
            )
    return lines


def _write(path: Path, text: str, what: str) -> str:
    try:
        write_atomically(path, text)
    except OSError as exc:
        return f"error: the {what} could not be written to {path}: {exc}"
    return f"{what}: {path}"
