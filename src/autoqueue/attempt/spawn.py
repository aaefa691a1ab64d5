"""Start a program in a process group (a session, on POSIX) of its own: the standard library
only, so that an attempt's supervisor starts its program before it loads anything else."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping, Sequence
from typing import IO


def session_kwargs() -> dict[str, object]:
    """Popen arguments for a new session (POSIX) or process group (Windows)."""
    if sys.platform == "win32":
        flags = subprocess.CREATE_NEW_PROCESS_GROUP | getattr(subprocess, "CREATE_NO_WINDOW", 0)
        return {"creationflags": flags}
    return {"start_new_session": True}


def popen(
    argv: Sequence[str],
    *,
    cwd: str,
    env: Mapping[str, str],
    stdout: int | IO[bytes] | None = subprocess.PIPE,
    stderr: int | IO[bytes] | None = subprocess.PIPE,
) -> subprocess.Popen[bytes]:
    """Start ``argv`` (a list, never a shell) with no input. Raises OSError when it cannot be
    started (not found, not executable)."""
    process: subprocess.Popen[bytes] = subprocess.Popen(
        list(argv),
        cwd=cwd,
        env=dict(env),
        stdin=subprocess.DEVNULL,
        stdout=stdout,
        stderr=stderr,
        **session_kwargs(),  # type: ignore[call-overload]
    )
    return process
