"""The stage launcher: ``python -m autoqueue.launcher PROGRAM ARGS...``.

autoqueue starts every stage program through this launcher so that the program's pid and start
time are in the database before the program runs a single instruction: the launcher waits for a
line on stdin, which the tick sends only after recording the pid, then replaces itself with the
program (``exec`` keeps the pid and the start time). On Windows, where exec starts a new process,
it runs the program as its child and passes its exit code on; killing the tree kills both.

If the tick closes stdin without sending the line, the launcher exits without running anything.
"""

from __future__ import annotations

import os
import subprocess
import sys

GO = b"go\n"
CANNOT_START = 65  # a missing program is a permanent failure (autoqueue's exit-code contract)


def main(argv: list[str]) -> int:
    if not argv:
        print("usage: python -m autoqueue.launcher PROGRAM [ARGS...]", file=sys.stderr)
        return 2
    if sys.stdin.buffer.readline() != GO:
        return 0
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    try:
        if sys.platform == "win32":
            return subprocess.call(argv, stdin=subprocess.DEVNULL)
        os.execvp(argv[0], argv)
    except OSError as exc:
        print(f"cannot start {argv[0]!r}: {exc.strerror or exc}", file=sys.stderr)
        return CANNOT_START
    return 0  # not reached: exec does not return


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
