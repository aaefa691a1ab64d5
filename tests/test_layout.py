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
