"""The layout issue 24 asked for, kept: a few packages whose names say what they hold, at most
twelve modules directly in ``src/autoqueue``, and ARCHITECTURE.md's map naming every module, so
that a newcomer finds where to change a thing; and a short README whose links reach the pages of
docs/. (The import rules are import-linter's contracts in pyproject.toml, and the links among the
pages of docs/ mkdocs --strict's, both checked by scripts/test.sh.) The tests follow it: what test
modules share lives in tests/conftest.py or tests/helpers, each helper saying what it is for, and
no test module imports another."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "autoqueue"
TESTS = ROOT / "tests"

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


# A Markdown link or picture, `[text](target)` or `![alt](target "title")`; code is taken out first.
LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
FENCE = re.compile(r"^(```|~~~).*?^\1", re.M | re.S)
CODE = re.compile(r"`[^`\n]*`")


def slug(heading: str) -> str:
    """A heading's anchor as GitHub makes it (and mkdocs, for headings of words and single spaces)."""
    text = re.sub(r"[`*_]", "", heading).strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    text = FENCE.sub("", page.read_text(encoding="utf-8"))
    return {slug(m.group(1)) for m in re.finditer(r"^#{1,6}\s+(.+?)\s*#*$", text, re.M)}


def relative_links(page: Path) -> list[str]:
    text = CODE.sub("", FENCE.sub("", page.read_text(encoding="utf-8")))
    return [
        target
        for target in LINK.findall(text)
        if not re.match(r"(https?|mailto):", target, re.I)
    ]


@pytest.mark.parametrize("name", ["README.md", "ARCHITECTURE.md"])
def test_every_relative_link_points_into_the_repository(name: str) -> None:
    """The README is the front door to docs/: each of its links (and ARCHITECTURE.md's) must reach
    a file of this repository, and an anchor a heading of that file. (mkdocs checks the pages of
    docs/ among themselves: scripts/test.sh builds them with --strict.)"""
    page = ROOT / name
    links = relative_links(page)
    assert links, f"{name} links to nothing: the pattern no longer finds its links"
    broken = []
    for link in links:
        path, _, anchor = link.partition("#")
        target = (page.parent / path).resolve() if path else page
        if not target.is_relative_to(ROOT) or not target.is_file():
            broken.append(f"{link}: no such file in the repository")
        elif anchor and target.suffix == ".md" and anchor not in anchors(target):
            broken.append(f"{link}: {target.relative_to(ROOT)} has no heading #{anchor}")
    assert not broken, f"{name}: {broken}"


def test_the_readme_stays_a_front_door() -> None:
    """What autoqueue is, the two commands, the command table and links; the rest is in docs/."""
    lines = (ROOT / "README.md").read_text(encoding="utf-8").count("\n")
    assert lines < 350, f"README.md has {lines} lines: move the long text to a page of docs/"


def test_the_docs_site_lists_every_page() -> None:
    """mkdocs.yml's nav names every page of docs/ and nothing else (mkdocs --strict refuses a page
    left out too; this says so without building the site)."""
    config = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    listed = set(re.findall(r"^\s*- [^:\n]+:\s*(\S+\.md)\s*$", config, re.M))
    pages = {path.relative_to(ROOT / "docs").as_posix() for path in (ROOT / "docs").rglob("*.md")}
    assert listed == pages
    assert re.search(r"^strict:\s*true\s*$", config, re.M)


def test_no_module_is_over_five_hundred_lines() -> None:
    long = {
        name: lines
        for name in modules()
        if (lines := len((PACKAGE / name).read_text(encoding="utf-8").splitlines())) > 500
    }
    assert not long, long


def test_only_the_store_knows_which_backend_it_talks_to() -> None:
    """Above store/, SQL that differs asks the connection's Dialect (ARCHITECTURE.md
    "Backends"); the backend test itself stays inside the seam."""
    outside = [
        name
        for name in modules()
        if not name.startswith("store/")
        and "_is_postgres" in (PACKAGE / name).read_text(encoding="utf-8")
    ]
    assert not outside, outside


# -- the tests' own layout ---------------------------------------------------------------------


def names_of_test_modules() -> set[str]:
    """The names of the test modules, tests/test_*.py."""
    return {path.stem for path in TESTS.glob("test_*.py")}


def imports_of_test_modules(source: str, own: str, modules: set[str]) -> list[str]:
    """Each import in ``source`` (at any depth: one inside a function too) that reaches one of
    the test modules ``modules`` other than ``own``, as "line: module"."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            names = [base] + [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        for name in names:
            reached = [part for part in name.split(".") if part in modules and part != own]
            if reached:
                found.append(f"{node.lineno}: {reached[0]}")
                break
    return found


def test_no_test_module_imports_another() -> None:
    """What two test modules share lives in tests/helpers or tests/conftest.py. Taken from a
    test module, it ties the two together: it cannot change or move without touching a module
    that only happened to define it first, and running the one imports the other whole."""
    modules = names_of_test_modules()
    offenders = [
        f"{path.relative_to(TESTS).as_posix()}:{found}"
        for path in sorted(TESTS.rglob("*.py"))
        if "__pycache__" not in path.parts
        for found in imports_of_test_modules(path.read_text(encoding="utf-8"), path.stem, modules)
    ]
    assert not offenders, offenders


def test_the_import_check_sees_every_form_of_import() -> None:
    """It reads imports, not text: every way of naming a test module is caught, inside a
    function too; a helper's or conftest's import is not, nor a module's import of itself."""
    modules = {"test_ui", "test_stock"}
    source = """
from .test_ui import drive
from . import test_stock
import tests.test_ui
from tests.test_stock import fake as fake
from .helpers.terminal import drive
from .conftest import add
import test_layout

def later():
    from .test_ui import status
"""
    assert imports_of_test_modules(source, "test_layout", modules) == [
        "2: test_ui",
        "3: test_stock",
        "4: test_ui",
        "5: test_stock",
        "11: test_ui",
    ]
    assert imports_of_test_modules("from .test_ui import x\n", "test_ui", modules) == []


def test_the_shared_helpers_say_what_they_are_for() -> None:
    """Every module of tests/helpers and tests/conftest.py has a docstring, and so does each
    function, fixture and class in them that is not private (named with a leading _)."""
    missing = []
    for path in [TESTS / "conftest.py", *sorted((TESTS / "helpers").glob("*.py"))]:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        name = path.relative_to(TESTS).as_posix()
        if ast.get_docstring(tree) is None:
            missing.append(name)
        missing += [
            f"{name}: {node.name}"
            for node in tree.body
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
            and not node.name.startswith("_")
            and ast.get_docstring(node) is None
        ]
    assert not missing, f"no docstring: {missing}"


# Where a write transaction may begin (ARCHITECTURE.md "Who writes"): the queue's transitions,
# a person's operations on tasks, the store itself, two worker duties that are no item's
# transition: the leader's lease with the claims' heartbeat, and the home's identity; and the
# notifications' own rows (their claim, their sends' records, the digest).
WRITERS = (
    "queue/",
    "tasks/",
    "store/",
    "worker/lease.py",
    "worker/start.py",
    "notify/dispatch.py",
    "notify/digest.py",
)


def test_transactions_begin_only_in_the_write_layers() -> None:
    opened = [
        name
        for name in modules()
        if not name.startswith(WRITERS)
        and re.search(r"\btransaction\(", (PACKAGE / name).read_text(encoding="utf-8"))
    ]
    assert not opened, opened
