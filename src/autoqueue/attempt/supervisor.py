"""The supervisor of one stage attempt: ``python -m autoqueue.attempt.supervisor ATTEMPT_DIR``.

The tick starts one per attempt, in a session of its own, with the attempt's secret token in
its environment (every process it starts inherits it). A command stage's program is started
first, before anything but the standard library is loaded: the supervisor's own start-up then
happens while the program runs. autoqueue.attempt.supervision does the rest.
"""

from __future__ import annotations

import json
import os
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import subprocess


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m autoqueue.attempt.supervisor ATTEMPT_DIR", file=sys.stderr)
        return 2
    # attempt_files.SPEC, named here so that nothing else is imported before the program runs
    with open(os.path.join(argv[0], "spec.json"), encoding="utf-8") as handle:
        spec = json.load(handle)
    started: subprocess.Popen[bytes] | OSError | None = None
    if spec["handler"] == "command":
        from autoqueue.attempt import spawn

        try:
            started = spawn.popen(spec["argv"], cwd=spec["cwd"], env={**os.environ, **spec["env"]})
        except OSError as exc:
            started = exc
    from pathlib import Path

    from autoqueue.attempt.supervision import supervise

    return supervise(Path(argv[0]), spec, started)


if __name__ == "__main__":
    code = main(sys.argv[1:])
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)  # a built-in stage's thread stuck past its timeout must not keep us alive
