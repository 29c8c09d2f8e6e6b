"""Every default a page states is the code's: the settings table of docs/sinks.md against
``Settings``, and the option table of docs/plugin.md against the options and ini keys the
plugin registers (names and defaults)."""

from __future__ import annotations

import ast
import dataclasses
import re
from pathlib import Path

import pytest

from aiusage_core._config import Settings

DOCS = Path(__file__).parents[1] / "docs"


def _table(page: str, header: str) -> list[list[str]]:
    """The rows of the Markdown table of ``page`` whose header row starts with ``header``."""
    lines = (DOCS / page).read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"| {header} |"))
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip("|").split(" | ")])
    return rows


def _code(cell: str) -> str | None:
    """The text of a cell's first inline code span, or ``None``."""
    found = re.search(r"`([^`]*)`", cell)
    return found.group(1) if found else None


def test_the_delivery_settings_table_states_the_settings_defaults() -> None:
    defaults = {f.name: f.default for f in dataclasses.fields(Settings)}
    rows = _table("sinks.md", "setting")
    assert [_code(name) for name, *_ in rows] == [
        "sink_timeout",
        "spool_dir",
        "flush_every",
        "max_records_per_context",
    ]
    for name, default, _meaning in rows:
        setting = _code(name)
        assert setting in defaults
        if setting == "spool_dir":  # None: chosen at run time, as the cell says
            assert defaults[setting] is None
            assert "$AIUSAGE_SPOOL_DIR" in default
            continue
        assert ast.literal_eval(_code(default) or "") == defaults[setting], setting


def _plugin_names(pytester: pytest.Pytester) -> tuple[list[str], list[str]]:
    """The options of the plugin's group and its ini keys, as ``pytest --help`` lists them."""
    text = pytester.runpytest_inprocess("--help").stdout.str()
    group = text.split("AI usage and cost budgets (pytest-aiusage):")[1].split("\n\n")[0]
    options = re.findall(r"^  (--aiusage-[a-z-]+)", group, re.M)
    ini = re.findall(r"^  (aiusage_[a-z_]+) \(", text, re.M)
    return options, ini


def test_the_option_table_lists_every_option_and_ini_key_with_its_default(
    pytester: pytest.Pytester,
) -> None:
    options, ini_keys = _plugin_names(pytester)
    config = pytester.parseconfig()
    dests = {o: o.removeprefix("--").replace("-", "_") for o in options}
    rows = _table("plugin.md", "option")
    documented_options = [_code(option).split("=")[0] for option, *_ in rows if _code(option)]
    documented_ini = [_code(ini) for _, ini, *_ in rows if _code(ini)]
    assert sorted(documented_options) == sorted(options)
    assert sorted(documented_ini) == sorted(ini_keys)

    for option, ini, default, _meaning in rows:
        name, key = _code(option), _code(ini)
        if key is not None:  # the option (if any) falls back to the ini key's default
            value: object = config.getini(key)
            if name is not None:
                assert config.getoption(dests[name.split("=")[0]]) in (None, False, value)
        else:
            assert name is not None
            value = config.getoption(dests[name.split("=")[0]])
        stated = _code(default)
        if stated is not None:
            assert str(value) == stated, (option, ini)
        elif default == "off":
            assert value is False or value is None, (option, ini)
        else:
            assert default == "none", (option, ini)
            assert value in ("", None, []), (option, ini)
