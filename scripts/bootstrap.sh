#!/usr/bin/env bash
# Creates .venv (once) and installs autoqueue with its test tools into it.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e '.[dev,bench]'
# Byte-compile the checkout, as `pip install .` does for a user: an editable install leaves that
# to the first import, which PYTHONDONTWRITEBYTECODE (set on some machines) turns off, and every
# stage attempt's supervisor would then compile autoqueue's modules anew.
.venv/bin/python -m compileall -q src >/dev/null
