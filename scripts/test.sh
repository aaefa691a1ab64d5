#!/usr/bin/env bash
# The test command: bootstrap, then lint, type-check, build the docs and run the test suite on
# both backends (SQLite, and a PostgreSQL cluster the tests start themselves:
# scripts/system-packages.sh installs Debian's postgresql package when it can, or says what to
# install), all but the long cases marked `slow`, which .ci/run adds after this.
# Extra arguments go to pytest (e.g. `bash scripts/test.sh -m slow` runs only the long ones).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/system-packages.sh      # PostgreSQL's server programs and a Hangul font
bash scripts/bootstrap.sh
.venv/bin/python -m ruff check src tests bench
.venv/bin/python -m mypy
.venv/bin/lint-imports --no-cache       # the layers: import-linter's contracts in pyproject.toml
# The documentation site, strict: a link to a missing page or anchor fails (built outside the tree).
# Not --quiet (nor -v): mkdocs 1.6 then stops counting the warnings that strict turns into errors.
site="$(mktemp -d)"
.venv/bin/mkdocs build --strict --site-dir "$site" && rm -rf "$site"
# Three workers on two cores: many tests wait on real processes (a 25 s database lock, stage
# programs sleeping), so a third worker keeps both cores busy.
if [ $# -gt 0 ]; then
    .venv/bin/python -m pytest -n 3 "$@"
else
    .venv/bin/python -m pytest -n 3 -m "not slow"
fi
# The benchmark's seconds-long smoke run, so it never rots (figures: python bench/run.py).
.venv/bin/python bench/run.py --quick
