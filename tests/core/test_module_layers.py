"""The settings module is a leaf: nothing it imports imports it back (no import cycle)."""

from __future__ import annotations

import ast
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
