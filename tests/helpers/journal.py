"""The journal the programs in tests/programs append to (one JSON object a line): stage.py's
starts and ends when ``JOURNAL`` is set, claimer.py's claims."""

from __future__ import annotations

import itertools
import json
from collections import Counter, defaultdict
from pathlib import Path


def journal_events(path: Path) -> list[dict[str, object]]:
    """Every event in the journal at ``path``, in order (none while it does not exist)."""
    if not path.exists():
        return []
    return [
        json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()
    ]


def event(journal: Path, kind: str, stage: str | None = None) -> dict[str, object] | None:
    """The journal's first event of ``kind`` (of ``stage``, when given), or None."""
    return next(
        (
            e
            for e in journal_events(journal)
            if e["event"] == kind and (stage is None or e["stage"] == stage)
        ),
        None,
    )


def starts_per_stage(journal: Path) -> Counter[tuple[object, object]]:
    """How many times stage.py started, per (task, stage)."""
    return Counter(
        (e["task"], e["stage"]) for e in journal_events(journal) if e["event"] == "start"
    )


def assert_no_overlap_per_queue(events: list[dict[str, object]], start: str, end: str) -> None:
    """No two events of one ``queue`` overlap, each spanning from its ``start`` field to its
    ``end`` field."""
    by_queue: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for event in events:
        by_queue[str(event["queue"])].append((float(event[start]), float(event[end])))  # type: ignore[arg-type]
    for queue, spans in by_queue.items():
        spans.sort()
        for (_, first_end), (second_start, _) in itertools.pairwise(spans):
            assert first_end <= second_start, f"two {queue} items overlapped"
