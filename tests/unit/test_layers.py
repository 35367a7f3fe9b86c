"""Modules use each other's public names only: no module imports another's ``_private``
name or reaches into an imported module for one (import-linter checks the floors and
cycles in ``make lint``; this checks what it cannot)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).parents[2] / "profiler"


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _reaches_into_private(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), str(path))
    found = []
    modules: set[str] = set()  # local names bound to modules of the tool
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("profiler"):
            for alias in node.names:
                if _private(alias.name):
                    found.append(f"{path.name}:{node.lineno} imports {node.module}.{alias.name}")
                modules.add(alias.asname or alias.name)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("profiler"):
                    modules.add(alias.asname or alias.name.split(".")[0])
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in modules
            and _private(node.attr)
        ):
            found.append(f"{path.name}:{node.lineno} uses {node.value.id}.{node.attr}")
    return found


def test_no_module_uses_another_modules_private_names() -> None:
    found = [f for path in sorted(PACKAGE.rglob("*.py")) for f in _reaches_into_private(path)]
    assert found == []


def test_the_check_sees_a_private_import(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text(
        "from profiler.runtime.engine import _hidden\nfrom profiler import paths\npaths._x()\n"
    )
    assert len(_reaches_into_private(module)) == 2
