"""The benchmark's quick run: a smoke test whose figures are not judged against targets."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).parents[1] / "bench" / "run.py"


@pytest.mark.no_db
def test_a_quick_run_says_its_figures_are_not_targets_and_judges_none() -> None:
    ran = subprocess.run(
        [sys.executable, str(BENCH), "--quick", "--only", "latency"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "autoqueue tick (idle)" in ran.stdout  # the figures are still measured
    assert not re.search(r"\b(MET|MISSED)\b", ran.stdout), ran.stdout
    [line] = [line for line in ran.stdout.splitlines() if "not targets" in line]
    assert "none is judged" in line
