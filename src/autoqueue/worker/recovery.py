"""Items left ``processing`` by a tick that died (or hung past its lease), and what becomes of
them. The attempt such an item started has its own supervisor, which outlives the tick:

- it has ended and recorded how (``result.json``): its result is applied, and the program is
  never run again;
- it is still running (this host): it is **adopted**, followed to its end like any attempt;
- it vanished with no record (or none was started): the item runs again, without spending a
  stage retry, within the crash budget (``retry.max_crashes`` in a row).

The owner of another host's item cannot be asked, so it is only recovered once its lease has
run out (by the worker that leads), and its processes are left to that host. An item of this
host whose owner process is gone (pid and start time) is recovered at once by any worker of
this host, leader or not: a worker restarted by systemd takes its predecessor's items back
without waiting for a lease.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import datetime

from autoqueue.attempt import files as attempt_files
from autoqueue.attempt import processes
from autoqueue.attempt.outcome import Outcome
from autoqueue.attempt.processes import ProcessInfo
from autoqueue.attempt.runner import Runner
from autoqueue.attempt.running import Attempt, existing_attempt
from autoqueue.kinds import QueueType
from autoqueue.models import QueueItem
from autoqueue.owner import Owner
from autoqueue.queue.attempts import adopt_item
from autoqueue.queue.claims import set_aside_item
from autoqueue.repo import queue as queue_repo
from autoqueue.repo.queue import UnreadableRow
from autoqueue.timeutil import from_db, to_db


@dataclass(frozen=True)
class Recovered:
    """An orphaned item, why it was one, and what became of it."""

    item: QueueItem
    reason: str
    outcome: Outcome | str  # "adopted" while its attempt runs on
    killed: tuple[ProcessInfo, ...] = ()


@dataclass
class Recovery:
    recovered: list[Recovered] = field(default_factory=list)
    adopted: list[Attempt] = field(default_factory=list)


def orphan_reason(
    item: QueueItem,
    owner: Owner,
    now: datetime,
    alive: Callable[[int, float | None], bool],
    *,
    leases: bool = True,
) -> str | None:
    """Why a processing item no longer has a live owner, or None while it does. Without
    ``leases``, only an owner on this host that died counts (not an expired lease)."""
    if (
        item.owner_host == owner.host
        and item.owner_pid == owner.pid
        and item.owner_started == owner.started
    ):
        return None
    holder = f"{item.owner_host}:{item.owner_pid}"
    if item.owner_host == owner.host and (
        item.owner_pid is None or not alive(item.owner_pid, item.owner_started)
    ):
        return f"its tick {holder} died"
    if not leases:
        return None
    if item.lease_expires_at is None or from_db(item.lease_expires_at) <= now:
        return f"the lease of tick {holder} expired"
    return None


def recover_orphans(
    runner: Runner,
    now: datetime,
    *,
    served: Collection[QueueType] | None = None,
    leases: bool = True,
) -> Recovery:
    """Find the orphaned items and apply, adopt or run again what their attempts left. An
    attempt still running on this host is adopted only by a worker that runs its queue type
    (``served``); otherwise it is left to run on, and its result is applied once it ends.
    ``leases`` False (a worker that does not lead): only the items of this host's dead
    workers, not those whose lease ran out."""
    report = Recovery()
    conn = runner.conn
    for item in queue_repo.processing(conn):
        if isinstance(item, UnreadableRow):
            _set_aside(runner, item, now)
            continue
        reason = orphan_reason(item, runner.owner, now, processes.is_alive, leases=leases)
        if reason is None:
            continue
        recovered = _recover(runner, item, reason, now, report, served)
        if recovered is not None:
            report.recovered.append(recovered)
    return report


def _set_aside(runner: Runner, bad: UnreadableRow, now: datetime) -> None:
    def set_aside() -> None:
        set_aside_item(runner.conn, bad, to_db(now))

    runner.write("setting an unreadable item aside", set_aside)


def _recover(
    runner: Runner,
    item: QueueItem,
    reason: str,
    now: datetime,
    report: Recovery,
    served: Collection[QueueType] | None = None,
) -> Recovered | None:
    here = item.owner_host == runner.owner.host
    attempt = existing_attempt(runner.workspace, item)
    what = f"recovered: {reason} while the {item.queue_type.value} stage ran"
    if attempt is None:
        # No attempt was started (the tick died claiming it, or in the schedule stage it runs
        # itself): nothing ran to its end, so it runs again.
        return Recovered(item, reason, runner.lose(item, what).outcome)
    record = attempt_files.read_result(attempt.folder)
    if record is not None:
        runner.copy_all(attempt)
        killed = tuple(attempt.kill()) if here else ()
        ended = runner.apply(attempt.item, record)
        return Recovered(
            item, f"{reason}; its attempt had ended: result applied", ended.outcome, killed
        )
    if here and attempt.running():
        if served is not None and item.queue_type not in served:
            return None  # its supervisor runs on; the result is applied when it has ended
        pid = attempt.supervisor.pid if attempt.supervisor else "?"
        message = (
            f"⤴ attempt {item.attempt_no} adopted: {reason}, and the stage runs on "
            f"(supervisor pid {pid}); its timeout still holds"
        )
        adopted = runner.write(
            "adopting an attempt",
            lambda: adopt_item(runner.conn, item, runner.owner, runner.policy, now, message),
        )
        if adopted is None:
            return None
        attempt.item = adopted
        report.adopted.append(attempt)
        return Recovered(item, f"{reason}; its attempt runs on and was adopted", "adopted")
    killed = tuple(attempt.kill()) if here else ()
    runner.copy_all(attempt)
    why = what + " and its attempt left no record"
    if killed:
        why += "; killed what it left running: " + ", ".join(
            f"{p.name} (pid {p.pid})" for p in killed
        )
    ended = runner.lose(item, why)
    return Recovered(item, reason, ended.outcome, killed)
