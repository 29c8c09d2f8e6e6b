"""Options, ini keys and turning the plugin off."""

from __future__ import annotations

from collections.abc import Callable

import pytest

OVER_BUDGET = """
import pytest
from aiusage_core import record_usage

@pytest.mark.ai_budget(usd=0.0001)
def test_over():
    record_usage(model="gpt-4o-mini", input_tokens=1000, output_tokens=500)
"""


def test_help_lists_every_option_and_ini_key_with_the_same_text(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--help")
    result.stdout.fnmatch_lines(
        [
            "AI usage and cost budgets (pytest-aiusage):",
            "  --aiusage-default-budget=SPEC",
            "*default AI budget of every test, e.g. 'usd=0.05,*",
            "  --aiusage-max-usd=USD",
            "*session-wide AI budget in US dollars*",
            "  --aiusage-unpriced={fail,warn,ignore}",
            "  --aiusage-top=N*",
            "  --aiusage-json=PATH*",
            "  --aiusage-strict*",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "  aiusage_default_budget (string):",
            "*default AI budget of every test, e.g. 'usd=0.05,*",
            "  aiusage_max_usd (string):",
            "*session-wide AI budget in US dollars*",
            "  aiusage_unpriced (string):",
            "  aiusage_top (string):*",
            "  aiusage_json (string):",
            "  aiusage_strict (bool):*",
        ]
    )


@pytest.mark.parametrize(
    ("args", "ini", "message"),
    [
        (["--aiusage-max-usd=lots"], "", "ERROR: --aiusage-max-usd='lots' is not a number"),
        (
            [],
            "aiusage_max_usd = -5",
            "ERROR: ini aiusage_max_usd='-5' must be a finite, non-negative number of US dollars",
        ),
        (
            ["--aiusage-default-budget=usd=0.01,dollars=3"],
            "",
            "ERROR: --aiusage-default-budget: unknown limit 'dollars'; expected one of usd, "
            "tokens, input_tokens, output_tokens, calls",
        ),
        (
            [],
            "aiusage_default_budget = usd 0.01",
            "ERROR: ini aiusage_default_budget: 'usd' is not limit=value (e.g. 'usd=0.05, "
            "calls=10')",
        ),
        (["--aiusage-top=-1"], "", "ERROR: --aiusage-top='-1' must not be negative"),
        (
            [],
            "aiusage_unpriced = loud",
            "ERROR: ini aiusage_unpriced='loud' must be one of fail, warn, ignore",
        ),
    ],
    ids=["max-usd", "max-usd-ini", "budget-limit", "budget-ini-syntax", "top", "unpriced-ini"],
)
def test_bad_option_values_are_usage_errors_naming_the_option(
    pytester: pytest.Pytester,
    write_ini: Callable[[str], None],
    args: list[str],
    ini: str,
    message: str,
) -> None:
    write_ini(ini)
    pytester.makepyfile(test_nothing="def test_nothing():\n    pass\n")
    result = pytester.runpytest(*args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])


def test_p_no_aiusage_turns_everything_off(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_off=OVER_BUDGET
        + """
def test_fixture(ai_usage):
    pass
"""
    )
    on = pytester.runpytest()
    on.assert_outcomes(failed=1, errors=0, passed=1)

    off = pytester.runpytest("-p", "no:aiusage", "--strict-markers", "--aiusage-json=x.json")
    off.assert_outcomes(passed=1, errors=1)
    off.stdout.fnmatch_lines(["E       fixture 'ai_usage' not found"])
    off.stdout.no_fnmatch_line("*AI usage*")
    off.stdout.no_fnmatch_line("*AI budget*")
    assert not (pytester.path / "x.json").exists()


SUITE_USING_THE_PLUGIN = """
import pytest
from aiusage_core import record_usage


@pytest.mark.ai_budget(usd=0.0001, calls=1)
def test_over_its_budget():
    record_usage(model="gpt-4o-mini", input_tokens=1000, output_tokens=500)
    record_usage(model="gpt-4o-mini", input_tokens=1000, output_tokens=500)


@pytest.mark.openai_cassette
@pytest.mark.fake_openai
def test_marked_for_cassettes():
    pass
"""


@pytest.mark.parametrize("autoload", [True, False])
def test_with_the_plugin_off_a_suite_using_its_names_runs_under_strict_markers_and_config(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, autoload: bool
) -> None:
    # ai_budget markers, aiusage_* ini keys and --aiusage-* options in addopts stay known
    # with -p no:aiusage: nothing is checked, tracked or written.
    pytester.makeini(
        "[pytest]\n"
        "addopts = --strict-markers --strict-config --aiusage-top=3 -p no:cacheprovider\n"
        "aiusage_default_budget = usd=0.01\n"
        "aiusage_json = usage.json\n"
        "aiusage_unpriced = warn\n"
        "aiusage_cassette_report = true\n"
        "aiusage_output_cap = gpt-4o=4000, *=1000\n"
        "aiusage_refuse_unbounded = true\n"
    )
    pytester.makepyfile(test_suite=SUITE_USING_THE_PLUGIN)
    if autoload:
        off = pytester.runpytest_subprocess("-p", "no:aiusage")
    else:
        # Plugin autoloading off: the names come only with the plugin, and so does the
        # plugin's own behaviour when it is named.
        monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
        named = pytester.runpytest_subprocess("-p", "pytest_aiusage._plugin")
        named.assert_outcomes(failed=1, passed=1)
        named.stdout.fnmatch_lines(["*AI budget exceeded*"])
        (pytester.path / "usage.json").unlink()
        off = pytester.runpytest_subprocess("-p", "pytest_aiusage._names")
    off.assert_outcomes(passed=2)
    assert off.ret == pytest.ExitCode.OK
    off.stdout.no_fnmatch_line("*AI usage*")
    assert not (pytester.path / "usage.json").exists()
