"""The layout issue 24 asked for, kept: a few packages whose names say what they hold, at most
twelve modules directly in ``src/autoqueue``, and ARCHITECTURE.md's map naming every module, so
that a newcomer finds where to change a thing. (The import rules are import-linter's contracts
in pyproject.toml, which scripts/test.sh checks.)"""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "autoqueue"

pytestmark = pytest.mark.no_db


def modules() -> list[str]:
    return sorted(
        path.relative_to(PACKAGE).as_posix()
        for path in PACKAGE.rglob("*.py")
        if "__pycache__" not in path.parts
    )


def test_at_most_twelve_modules_at_the_top() -> None:
    top = [name for name in modules() if "/" not in name]
    assert len(top) <= 12, top


def test_the_architecture_map_names_every_module() -> None:
    text = (ROOT / "ARCHITECTURE.md").read_text(encoding="utf-8")
    missing = [name for name in modules() if f"`{name}`" not in text]
    assert not missing, f"ARCHITECTURE.md's module map leaves out {missing}"


def test_no_package_name_is_also_a_module_of_it() -> None:
    """Importing ``autoqueue.cli.x`` sets the package's attribute ``x`` to that module: a name
    the package's ``__init__`` defines (the typer ``app`` of ``cli``) must not be one of its
    modules' names too, or whichever import ran last decides what it is."""
    import ast

    clashes = []
    for init in PACKAGE.rglob("__init__.py"):
        folder = init.parent
        names = {path.stem for path in folder.glob("*.py")} | {
            path.name for path in folder.iterdir() if (path / "__init__.py").exists()
        }
        for node in ast.parse(init.read_text(encoding="utf-8")).body:
            targets: list[str] = []
            if isinstance(node, ast.Assign):
                targets = [t.id for t in node.targets if isinstance(t, ast.Name)]
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                targets = [node.target.id]
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                targets = [node.name]
            clashes += [f"{folder.name}.{name}" for name in targets if name in names]
    assert not clashes, clashes
