"""Command-line options and ini keys, and reading them into one checked :class:`Options`.

Every option has an ini key of the same name sharing its help text. The command line wins
over the ini file; an ``ai_budget`` marker wins over both (see :mod:`._budget`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Literal

import pytest

from aiusage_core import ConfigurationError

from ._budget import (
    Limits,
    ResolvedBudget,
    parse_output_cap,
    parse_spec,
    parse_usd,
    parse_whole,
)

__all__ = ["Options", "UnpricedPolicy", "add_options", "read_options"]

UnpricedPolicy = Literal["fail", "warn", "ignore"]

HELP_DEFAULT_BUDGET = (
    "default AI budget of every test, e.g. 'usd=0.05, calls=10' (limits: usd, tokens, "
    "input_tokens, output_tokens, calls). @pytest.mark.ai_budget overrides it limit by limit."
)
HELP_MAX_USD = (
    "session-wide AI budget in US dollars: once the tests together cost more, the run stops "
    "(like -x) and exits non-zero."
)
HELP_UNPRICED = (
    "what to do with calls that cannot be priced in a test with a usd limit: fail the test "
    "(default), warn in the summary, or ignore them."
)
HELP_HARD_BUDGET = (
    "make every test's AI budget hard: a call that would take the test over it is refused "
    "before it is sent (BudgetExceededError), so recording and replay stop at the same call. "
    "@pytest.mark.ai_budget(hard=...) overrides it."
)
HELP_OUTPUT_CAP = (
    "output tokens a hard test budget reserves for a call whose request sets no output cap: "
    "one number, or per model, e.g. 'gpt-4o=4000, *=1000' ('*': any other model). Without "
    "it, such a call reserves its model's context window. @pytest.mark.ai_budget(output_cap=...) "
    "overrides it."
)
HELP_REFUSE_UNBOUNDED = (
    "make hard test budgets refuse every call whose request does not bound its cost (no output "
    "cap and no output cap assumed; images, files or previous responses in its input) instead "
    "of reserving its model's context window. @pytest.mark.ai_budget(refuse_unbounded=...) "
    "overrides it."
)
HELP_TOP = "how many of the most expensive tests the AI usage summary lists (default 5; 0: none)."
HELP_JSON = "write the AI usage of every test to this JSON file."
HELP_JSON_CALLS = (
    "list every call (time, operation, model, tokens, cost, request id) per test in the JSON "
    "report and in the HTML report."
)
HELP_HTML = (
    "write a self-contained HTML report (totals, cost by model and operation, every test in "
    "a sortable table with its budget) to this file."
)
HELP_SUMMARY = (
    "write a Markdown summary (totals, budget failures, most expensive tests, baseline "
    "regressions) to this file; it is also added to $GITHUB_STEP_SUMMARY when that is set."
)
HELP_STRICT = (
    "fail a test during which an AI call was made outside any usage context (e.g. in a thread "
    "not started with aiusage_core.propagate)."
)

_DEFAULT_TOP = 5


def option_group(parser: pytest.Parser) -> pytest.OptionGroup:
    """The ``aiusage`` option group, which every module of the plugin adds its options to
    (its description must be the same whichever module creates it)."""
    return parser.getgroup("aiusage", "AI usage and cost budgets (pytest-aiusage)")


def add_options(parser: pytest.Parser) -> None:
    """Register the options under the ``aiusage`` group and their ini keys."""
    group = option_group(parser)
    group.addoption(
        "--aiusage-default-budget",
        metavar="SPEC",
        dest="aiusage_default_budget",
        default=None,
        help=HELP_DEFAULT_BUDGET,
    )
    group.addoption(
        "--aiusage-max-usd",
        metavar="USD",
        dest="aiusage_max_usd",
        default=None,
        help=HELP_MAX_USD,
    )
    group.addoption(
        "--aiusage-unpriced",
        choices=("fail", "warn", "ignore"),
        dest="aiusage_unpriced",
        default=None,
        help=HELP_UNPRICED,
    )
    group.addoption(
        "--aiusage-hard-budget",
        action="store_true",
        dest="aiusage_hard_budget",
        default=None,
        help=HELP_HARD_BUDGET,
    )
    group.addoption(
        "--aiusage-output-cap",
        metavar="SPEC",
        dest="aiusage_output_cap",
        default=None,
        help=HELP_OUTPUT_CAP,
    )
    group.addoption(
        "--aiusage-refuse-unbounded",
        action="store_true",
        dest="aiusage_refuse_unbounded",
        default=None,
        help=HELP_REFUSE_UNBOUNDED,
    )
    group.addoption("--aiusage-top", metavar="N", dest="aiusage_top", default=None, help=HELP_TOP)
    group.addoption(
        "--aiusage-json", metavar="PATH", dest="aiusage_json", default=None, help=HELP_JSON
    )
    group.addoption(
        "--aiusage-html", metavar="PATH", dest="aiusage_html", default=None, help=HELP_HTML
    )
    group.addoption(
        "--aiusage-summary",
        metavar="PATH",
        dest="aiusage_summary",
        default=None,
        help=HELP_SUMMARY,
    )
    group.addoption(
        "--aiusage-json-calls",
        action="store_true",
        dest="aiusage_json_calls",
        default=None,
        help=HELP_JSON_CALLS,
    )
    group.addoption(
        "--aiusage-strict",
        action="store_true",
        dest="aiusage_strict",
        default=None,
        help=HELP_STRICT,
    )
    parser.addini("aiusage_default_budget", HELP_DEFAULT_BUDGET, type="string", default="")
    parser.addini("aiusage_max_usd", HELP_MAX_USD, type="string", default="")
    parser.addini("aiusage_unpriced", HELP_UNPRICED, type="string", default="fail")
    parser.addini("aiusage_hard_budget", HELP_HARD_BUDGET, type="bool", default=False)
    parser.addini("aiusage_output_cap", HELP_OUTPUT_CAP, type="string", default="")
    parser.addini("aiusage_refuse_unbounded", HELP_REFUSE_UNBOUNDED, type="bool", default=False)
    parser.addini("aiusage_top", HELP_TOP, type="string", default=str(_DEFAULT_TOP))
    parser.addini("aiusage_json", HELP_JSON, type="string", default="")
    parser.addini("aiusage_html", HELP_HTML, type="string", default="")
    parser.addini("aiusage_summary", HELP_SUMMARY, type="string", default="")
    parser.addini("aiusage_json_calls", HELP_JSON_CALLS, type="bool", default=False)
    parser.addini("aiusage_strict", HELP_STRICT, type="bool", default=False)


@dataclass(frozen=True, slots=True)
class Options:
    """The plugin's settings for one session, checked."""

    budget_layers: tuple[tuple[str, Limits], ...]
    """``(source, limits)`` from the command line, then the ini file: the outermost layers
    of every test's budget."""
    default_budget: ResolvedBudget
    """The budget of a test without ``ai_budget`` markers."""
    max_usd: Decimal | None
    """The session budget, or ``None``."""
    max_usd_source: str
    """Where the session budget was set (``--aiusage-max-usd`` or ``ini aiusage_max_usd``)."""
    unpriced: UnpricedPolicy
    """What unpriced calls under a usd limit do."""
    hard_budget: tuple[bool, str]
    """Whether budgets are hard unless a marker says, and where that was set."""
    output_cap: tuple[int | Mapping[str, int] | None, str]
    """The output tokens a hard budget reserves for an uncapped call unless a marker says
    (``None``: its model's context window), and where that was set."""
    refuse_unbounded: tuple[bool, str]
    """Whether hard budgets refuse unbounded calls unless a marker says, and where that was
    set."""
    top: int
    """How many of the most expensive tests the summary lists."""
    json_path: Path | None
    """Where to write the JSON report, or ``None``."""
    html_path: Path | None
    """Where to write the HTML report, or ``None``."""
    summary_path: Path | None
    """Where to write the Markdown summary, or ``None``."""
    json_calls: bool
    """Whether the reports list every call."""
    strict: bool
    """Whether calls outside any usage context fail the test."""


def _pick(config: pytest.Config, name: str) -> tuple[object, str]:
    """The option's value from the command line if given there, else from the ini file."""
    value = config.getoption(name)
    if value is not None:
        return value, f"--{name.replace('_', '-')}"
    return config.getini(name), f"ini {name}"


def _path(config: pytest.Config, name: str) -> Path | None:
    """A file option: relative to the invocation directory on the command line, to the ini
    file's directory in the ini file."""
    raw = config.getoption(name)
    if raw:
        return config.invocation_params.dir / str(raw)
    ini = str(config.getini(name) or "").strip()
    if ini:
        base = config.inipath.parent if config.inipath is not None else config.rootpath
        return base / ini
    return None


def read_options(config: pytest.Config) -> Options:
    """Read and check every option; a bad value raises :class:`pytest.UsageError` naming it."""
    try:
        return _read(config)
    except ConfigurationError as exc:
        raise pytest.UsageError(str(exc)) from None


def _read(config: pytest.Config) -> Options:
    cli_spec = config.getoption("aiusage_default_budget")
    cli_budget = parse_spec(cli_spec, "--aiusage-default-budget") if cli_spec is not None else {}
    ini_budget = parse_spec(
        str(config.getini("aiusage_default_budget") or ""), "ini aiusage_default_budget"
    )

    raw, max_usd_source = _pick(config, "aiusage_max_usd")
    max_usd = parse_usd(raw, max_usd_source) if str(raw).strip() else None

    raw, label = _pick(config, "aiusage_unpriced")
    unpriced = str(raw).strip().lower() or "fail"
    if unpriced not in ("fail", "warn", "ignore"):
        raise ConfigurationError(
            f"{label}={raw!r} must be one of fail, warn, ignore", name=label, value=raw
        )

    raw, label = _pick(config, "aiusage_top")
    top = parse_whole(raw, label) if str(raw).strip() else _DEFAULT_TOP

    json_path = _path(config, "aiusage_json")

    raw = config.getoption("aiusage_json_calls")
    json_calls = bool(config.getini("aiusage_json_calls")) if raw is None else bool(raw)

    raw = config.getoption("aiusage_strict")
    strict = bool(config.getini("aiusage_strict")) if raw is None else bool(raw)

    raw, label = _pick(config, "aiusage_hard_budget")
    hard_budget = (bool(raw), label)

    raw, label = _pick(config, "aiusage_output_cap")
    output_cap = (parse_output_cap(raw, label) if str(raw).strip() else None, label)

    raw, label = _pick(config, "aiusage_refuse_unbounded")
    refuse_unbounded = (bool(raw), label)

    layers: list[tuple[str, Limits]] = [
        ("--aiusage-default-budget", cli_budget),
        ("ini aiusage_default_budget", ini_budget),
    ]
    return Options(
        budget_layers=tuple(layers),
        default_budget=ResolvedBudget.of_layers(layers),
        max_usd=max_usd,
        max_usd_source=max_usd_source,
        unpriced=unpriced,  # type: ignore[arg-type]
        hard_budget=hard_budget,
        output_cap=output_cap,
        refuse_unbounded=refuse_unbounded,
        top=top,
        json_path=json_path,
        html_path=_path(config, "aiusage_html"),
        summary_path=_path(config, "aiusage_summary"),
        json_calls=json_calls,
        strict=strict,
    )
