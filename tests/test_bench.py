"""The benchmark's quick run: a smoke run whose figures mean nothing and judge no target."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).parents[1] / "bench" / "run.py"
SECTIONS = ("throughput", "scale", "latency", "pipelining", "rendering", "memory", "postgresql")


def smoke_line(stdout: str) -> str:
    """The one line that says the run is a smoke run whose figures mean nothing."""
    [line] = [line for line in stdout.splitlines() if "smoke run" in line]
    assert "mean nothing" in line
    assert "no target is judged" in line
    return line


@pytest.mark.no_db
def test_a_quick_run_says_its_figures_mean_nothing_and_judges_none() -> None:
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
    smoke_line(ran.stdout)


@pytest.mark.no_db
@pytest.mark.slow
def test_the_quick_run_goes_through_every_section_end_to_end(tmp_path: Path) -> None:
    """Every section at toy sizes (the peers, MoviePy and PostgreSQL included), so that none
    rots; its RESULTS file names the commit and has no target column."""
    ran = subprocess.run(
        [sys.executable, str(BENCH), "--quick", "--write", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=1200,
        check=False,
    )
    assert ran.returncode == 0, ran.stdout[-4000:] + ran.stderr[-4000:]
    line = smoke_line(ran.stdout)
    assert not re.search(r"\b(MET|MISSED)\b", ran.stdout), ran.stdout
    for section in SECTIONS:
        assert re.search(rf"^  {section} ", ran.stdout, re.MULTILINE), section
    assert "ratio: autoqueue worker / huey" in ran.stdout
    assert "ratio: autoqueue worker / Procrastinate worker" in ran.stdout
    assert "ratio: video stage / MoviePy" in ran.stdout
    [results] = tmp_path.glob("RESULTS*.md")
    text = results.read_text(encoding="utf-8")
    assert re.match(
        r"# autoqueue benchmark results: (commit [0-9a-f]{7,}( with uncommitted changes)?"
        r"|code outside a git checkout)\n",
        text,
    ), text[:200]
    assert line in text
    assert "## Targets" not in text and "| met |" not in text
    assert "## Comparisons" in text
