"""A running attempt as the tick holds it: its folder, its secret token and its supervisor
process, and the attempt of a processing item found again by a tick that recovers it."""

from __future__ import annotations

import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from autoqueue.attempt import files as attempt_files
from autoqueue.attempt import processes
from autoqueue.attempt.processes import ProcessInfo
from autoqueue.attempt.program import wait_then_set
from autoqueue.models import QueueItem
from autoqueue.workspace import Workspace

# A supervisor enforces its attempt's timeout itself; the tick steps in only when a supervisor
# outlives the timeout by this much (it hung), and then kills the attempt as timed out.
BACKSTOP_SECONDS = 60.0


@dataclass
class Attempt:
    """A running attempt: its folder, its token, and its supervisor when known."""

    item: QueueItem
    folder: Path
    token: str
    timeout: float
    supervisor: ProcessInfo | None = None
    popen: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    exited: threading.Event = field(default_factory=threading.Event, repr=False)

    def __post_init__(self) -> None:
        if self.popen is not None:
            # Reaps our own child the moment it exits, and wakes whoever waits on ``exited``.
            threading.Thread(
                target=wait_then_set, args=(self.popen, self.exited), daemon=True
            ).start()

    def running(self) -> bool:
        """Whether the supervisor is still running (it writes its result before exiting)."""
        if self.popen is not None:
            return not self.exited.is_set()
        if self.supervisor is None:
            return False
        return processes.is_alive(self.supervisor.pid, self.supervisor.started)

    def wait(self, seconds: float) -> None:
        if self.popen is not None:
            self.exited.wait(seconds)
        else:
            time.sleep(seconds)

    def overdue(self) -> bool:
        """Whether the supervisor has run past the attempt's timeout plus every margin."""
        if self.supervisor is None or not self.supervisor.started:
            return False
        return time.time() - self.supervisor.started > self.timeout + BACKSTOP_SECONDS

    def kill(self) -> list[ProcessInfo]:
        root = None if self.supervisor is None else (self.supervisor.pid, self.supervisor.started)
        killed = processes.kill_attempt(self.token, root)
        if self.popen is not None:
            self.exited.wait()
        return killed


def existing_attempt(workspace: Workspace, item: QueueItem) -> Attempt | None:
    """The attempt a processing item recorded (found again by a recovering tick)."""
    if item.attempt_token is None or item.attempt_no < 1:
        return None
    folder = attempt_files.attempt_dir(
        workspace.task_dir(item.task_id), item.id, item.queue_type.value, item.attempt_no
    )
    supervisor = None
    if item.stage_pid and item.stage_started:
        supervisor = ProcessInfo(item.stage_pid, item.stage_started, "autoqueue-supervisor")
    else:
        recorded = attempt_files.read_identity(folder)
        if recorded is not None:
            supervisor = ProcessInfo(recorded[0], recorded[1], "autoqueue-supervisor")
        else:  # the tick died between starting the supervisor and recording it
            found = processes.carriers(item.attempt_token)
            oldest = min(found, key=lambda proc: proc.create_time(), default=None)
            if oldest is not None:
                supervisor = processes.identity(oldest.pid, "autoqueue-supervisor")
    timeout = workspace.config.stage(item.queue_type).timeout
    return Attempt(item, folder, item.attempt_token, timeout, supervisor)
