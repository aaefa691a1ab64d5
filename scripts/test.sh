#!/usr/bin/env bash
# The test command: bootstrap, then lint, type-check and run the whole suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
.venv/bin/python -m ruff check src tests bench
.venv/bin/python -m mypy
# Three workers on two cores: many tests wait on real processes (a 25 s database lock, stage
# programs sleeping), so a third worker keeps both cores busy.
.venv/bin/python -m pytest -n 3 "$@"
# The benchmark's seconds-long smoke run, so it never rots (figures: python bench/run.py).
.venv/bin/python bench/run.py --quick
