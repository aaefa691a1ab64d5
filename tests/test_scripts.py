"""The scripts a new user runs first: the test command installs what the tests need from the
system when it can, and otherwise says in one line what to install."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).parent.parent / "scripts" / "system-packages.sh"

pytestmark = [
    pytest.mark.no_db,
    pytest.mark.skipif(sys.platform == "win32", reason="a bash script for Debian and its kin"),
]


def run(pg_bin: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PG_BIN": str(pg_bin), "AUTOQUEUE_NO_INSTALL": "1"}
    return subprocess.run(
        ["bash", str(SCRIPT)], env=env, capture_output=True, text=True, check=False, timeout=60
    )


def test_without_postgresql_it_says_in_one_line_what_to_install(tmp_path: Path) -> None:
    result = run(tmp_path / "nowhere")
    assert result.returncode == 1 and result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert "postgresql" in line and "sudo apt-get install postgresql" in line and "PG_BIN" in line


def test_with_everything_there_it_says_nothing(tmp_path: Path) -> None:
    initdb = tmp_path / "initdb"
    initdb.write_text("#!/bin/sh\n", encoding="utf-8")
    initdb.chmod(0o755)
    result = run(tmp_path)  # the Hangul font: the test command installed it before the tests
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
