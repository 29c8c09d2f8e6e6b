"""The settings module is a leaf: nothing it imports imports it back (no import cycle)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).parents[2] / "aiusage_core"


def internal_imports(module: str) -> set[str]:
    """The ``aiusage_core`` modules ``module`` imports, at the top or inside functions."""
    tree = ast.parse((PACKAGE / f"{module}.py").read_text())
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module:
            found.add(node.module.split(".")[0])
    return found


def reachable(start: str) -> set[str]:
    seen: set[str] = set()
    todo = [start]
    while todo:
        module = todo.pop()
        for imported in internal_imports(module):
            if imported not in seen and (PACKAGE / f"{imported}.py").is_file():
                seen.add(imported)
                todo.append(imported)
    return seen


def test_the_settings_module_is_a_leaf_nothing_it_imports_imports_it() -> None:
    imported = reachable("_config")
    assert "_config" not in imported
    assert imported <= {
        "_connections",
        "_counts",
        "_errors",
        "_limits",
        "_metadata",
        "_models",
        "_pricing",
        "_postgres",
        "_records",
        "_sinks",
        "_sqlite",
    }


def test_importing_aiusage_core_loads_neither_the_openai_sdk_nor_the_price_tables() -> None:
    # docs/plugin.md ("Overhead") says so: the SDK comes with the code under test, the
    # prices with the first priced call.
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, aiusage_core; "
            "print(sorted(m for m in ('openai', 'genai_prices', 'anthropic') if m in sys.modules))",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert done.stdout.strip() == "[]"


def test_an_application_using_aiusage_core_never_loads_pytest_or_the_cassette_stack() -> None:
    # docs/cassettes.md ("Why the cassette packages are installed") says so.
    script = (
        "import sys, openai\n"
        "from aiusage_core import ai_usage_context, record_usage, wrap_openai\n"
        "client = wrap_openai(openai.OpenAI(api_key='k', base_url='http://127.0.0.1:9/v1'))\n"
        "with ai_usage_context('job'):\n"
        "    record_usage(model='gpt-4o-mini', input_tokens=1, output_tokens=1)\n"
        "client.close()\n"
        "stack = ('pytest', '_pytest', 'pytest_recording', 'vcr', 'werkzeug', 'yaml')\n"
        "print(sorted(m for m in stack if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True
    )
    assert done.stdout.strip() == "[]"
