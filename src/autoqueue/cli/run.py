"""Running the queues: tick, worker, cron, demo."""

# No `from __future__ import annotations`: typer evaluates the commands' annotations on every
# run (the package's docstring says why that matters).

import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from autoqueue.cli import display
from autoqueue.cli.app import JsonOption, State, _state, app
from autoqueue.errors import AutoqueueError, UsageError
from autoqueue.i18n import _, queue_label

if TYPE_CHECKING:
    from autoqueue.worker.report import TickReport
    from autoqueue.worker.tick import Worker
    from autoqueue.workspace import Workspace

INTERRUPTED = 130  # the shell's exit status for a command ended by Ctrl-C (128 + SIGINT)


def _print_processed(done: Any) -> None:
    """One line per item a round ran: its queue, task and how it ended, in the user's words."""
    detail = f": {done.detail}" if done.detail else ""
    queue = display.pad_cells(queue_label(done.queue_type.value), 8)
    display.info(f"{queue} {done.task_id} {display.outcome_label(done.outcome)}{detail}")


@dataclass
class _Signals:
    """The stop signals a run received."""

    count: int = 0
    interrupted: bool = False  # a Ctrl-C among them: the command exits 130


@contextmanager
def _stop_on_signals(worker: "Worker") -> Iterator[_Signals]:
    """SIGTERM / Ctrl-C: stop claiming and let running stages finish within the grace period,
    saying at once what is waited for; a second signal kills them (their items go back to
    waiting)."""
    received = _Signals()

    def handle(number: int, _frame: object) -> None:
        received.count += 1
        received.interrupted = received.interrupted or number == signal.SIGINT
        worker.request_stop()
        _say_stopping(worker, number, first=received.count == 1)

    previous = {}
    for name in ["SIGINT", "SIGTERM", "SIGBREAK"]:
        number = getattr(signal, name, None)
        if number is not None:
            previous[number] = signal.signal(number, handle)
    try:
        yield received
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def _say_stopping(worker: "Worker", number: int, *, first: bool) -> None:
    """One line on stderr, at once: what the stop waits for and how to end the wait. Written
    straight to the stream: a signal handler must not wait on a lock the code it interrupted
    may hold (rich's console has one)."""
    again = "Ctrl-C" if number == signal.SIGINT else signal.Signals(number).name
    running = worker.running()
    if not first:
        line = _("stopping now: the running stages are killed and their items go back to waiting")
    elif not running:
        line = _("stopping: no stage is running")
    else:
        items = ", ".join(
            f"{r.queue_type.value} {r.task_id[:8]}" + (f' "{r.title}"' if r.title else "")
            for r in running
        )
        line = _(
            "stopping: no new work starts; waiting up to {grace:g} s for {items} to finish "
            "(a second {again} stops them now and puts them back to waiting)"
        ).format(grace=worker.grace, items=items, again=again)
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


def _idle(state: State) -> bool:
    from datetime import UTC, datetime

    from autoqueue.layout import CONFIG_NAME
    from autoqueue.store.db import DB_NAME, is_url
    from autoqueue.worker.idle import nothing_to_do

    if state.db is not None and is_url(state.db):
        return False  # the fast path is SQLite's; a PostgreSQL tick asks its server
    db_path = Path(state.db or state.home / DB_NAME).expanduser().resolve()
    config = state.home.expanduser().resolve() / CONFIG_NAME
    return nothing_to_do(db_path, datetime.now(UTC), config)


def _run_scheduler(
    state: State,
    *,
    drain: bool,
    max_seconds: float | None,
    forever: bool,
    grace: float,
    as_json: bool,
    queues: str | None = None,
) -> None:
    from autoqueue.tasks.choices import parse_queues
    from autoqueue.worker.start import open_worker

    worker = open_worker(
        state.workspace,
        grace=grace,
        listener=None if as_json else _print_processed,
        queues=parse_queues(queues),
        notice=display.warning,  # the database going away and coming back, a line each
    )
    with _stop_on_signals(worker) as received:
        report = worker.run(drain=drain, max_seconds=max_seconds, forever=forever)
    _report(report, as_json=as_json)
    if received.interrupted:
        raise typer.Exit(INTERRUPTED)


def _report(report: "TickReport", *, as_json: bool) -> None:
    """What the round did: JSON, or lines (an error as the one line the CLI prints)."""
    if as_json:
        display.emit_json(
            {
                "lock_holder": report.lock_holder,
                "enqueued": report.enqueued,
                "recovered": [
                    {
                        "queue_id": r.item.id,
                        "task_id": r.item.task_id,
                        "reason": r.reason,
                        "outcome": str(r.outcome),
                    }
                    for r in report.recovered
                ],
                "processed": [asdict(p) for p in report.processed],
                "error": report.error,
            }
        )
        if report.error is not None:
            raise typer.Exit(1)
        return
    if report.error is not None:
        # The round stopped early; what its attempts recorded is applied by the next tick.
        raise AutoqueueError(report.error)
    for recovered in report.recovered:  # a follower recovers this host's dead workers' items
        display.info(
            _("recovered {value} item {id} of task {task_id}: {reason} ({outcome})").format(
                value=queue_label(recovered.item.queue_type.value),
                id=recovered.item.id,
                task_id=recovered.item.task_id,
                reason=recovered.reason,
                outcome=display.outcome_label(recovered.outcome),
            )
        )
    if report.lock_holder is not None and not report.processed:
        display.info(
            _(
                "another worker leads ({lock_holder}): it enqueues and recovers; nothing ready here"
            ).format(lock_holder=report.lock_holder)
        )
        return
    if report.enqueued:
        display.info(_("enqueued {enqueued} scheduled run(s)").format(enqueued=report.enqueued))
    if not (report.processed or report.enqueued or report.recovered):
        display.info(_("nothing to do"))


QueuesOption = Annotated[
    str | None,
    typer.Option(
        "--queues",
        help="Run only these queue types here, comma-separated (e.g. video,image).",
        show_default="all",
    ),
]


GraceOption = Annotated[
    float,
    typer.Option("--grace", min=0, help="On SIGTERM/Ctrl-C, seconds running stages get to finish."),
]


@app.command()
def tick(
    ctx: typer.Context,
    drain: Annotated[
        bool, typer.Option("--drain", help="Keep going until no work is ready.")
    ] = False,
    max_seconds: Annotated[
        float | None, typer.Option("--max-seconds", min=0, help="Stop claiming after this long.")
    ] = None,
    grace: GraceOption = 30.0,
    as_json: JsonOption = False,
    queues: QueuesOption = None,
) -> None:
    """One worker round: recover, enqueue due schedules, run one item per queue."""
    state = _state(ctx)
    if not drain and queues is None and _idle(state):
        if as_json:
            none: list[object] = []
            display.emit_json(
                {"lock_holder": None, "enqueued": 0, "recovered": none, "processed": none}
            )
        else:
            display.info(_("nothing to do"))
        return
    _run_scheduler(
        state,
        drain=drain,
        max_seconds=max_seconds,
        forever=False,
        grace=grace,
        as_json=as_json,
        queues=queues,
    )


@app.command()
def worker(
    ctx: typer.Context,
    grace: GraceOption = 30.0,
    as_json: JsonOption = False,
    queues: QueuesOption = None,
) -> None:
    """Run the queues until SIGTERM or Ctrl-C (for systemd or a terminal), instead of cron.
    Run one on each host of a PostgreSQL database; one of them leads the periodic duties."""
    _run_scheduler(
        _state(ctx),
        drain=True,
        max_seconds=None,
        forever=True,
        grace=grace,
        as_json=as_json,
        queues=queues,
    )


def cron_lines(workspace: "Workspace") -> dict[str, str]:
    """The crontab and schtasks lines for this home, with absolute paths (cron has no PATH).

    The interpreter is the one autoqueue runs under, as it is named (a virtualenv's
    ``bin/python``), never resolved: a venv's python is a link to the system's, and only
    through the link does Python find the venv, and autoqueue in it."""
    python = Path(sys.executable).absolute()
    home = workspace.home
    if workspace.db_url is not None:
        db_args = ["--db", workspace.db_url]
    elif workspace.db_path != home / "autoqueue.db":
        db_args = ["--db", str(workspace.db_path)]
    else:
        db_args = []
    argv = [str(python), "-m", "autoqueue", "--home", str(home), *db_args, "tick"]
    log = home / "autoqueue-cron.log"
    crontab = (
        f"* * * * * cd {shlex.quote(str(home))} && {shlex.join(argv)} "
        f">> {shlex.quote(str(log))} 2>&1"
    )
    win_argv = subprocess.list2cmdline(argv)
    schtasks = subprocess.list2cmdline(
        [
            "schtasks",
            "/Create",
            "/F",
            "/SC",
            "MINUTE",
            "/MO",
            "1",
            "/TN",
            "autoqueue tick",
            "/TR",
            win_argv,
        ]
    )
    return {"crontab": crontab, "schtasks": schtasks}


def cron_flavour(platform: str = sys.platform) -> str:
    """Which of ``cron_lines`` this system uses: ``schtasks`` on Windows, else ``crontab``."""
    return "schtasks" if platform == "win32" else "crontab"


@app.command()
def cron(
    ctx: typer.Context,
    install: Annotated[
        bool, typer.Option("--install", help="Add the line to this user's crontab (once).")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Print the line that runs `tick` every minute on this system: a crontab line, or on
    Windows a schtasks command."""
    state = _state(ctx)
    lines = cron_lines(state.workspace)
    if install:
        _install_crontab(lines["crontab"])
    flavour = cron_flavour()
    if as_json:
        # Both lines stay (scripts read them); "system" says which one this machine uses.
        display.emit_json({**lines, "system": flavour})
        return
    heading = (
        _("# Windows Task Scheduler (cmd.exe):")
        if flavour == "schtasks"
        else _("# crontab (crontab -e):")
    )
    sys.stdout.write(f"{heading}\n{lines[flavour]}\n")


# /etc/os-release IDs (ID, then ID_LIKE) and the command that installs cron there.
CRON_PACKAGES = {
    "debian": "apt-get install cron",
    "ubuntu": "apt-get install cron",
    "fedora": "dnf install cronie",
    "rhel": "dnf install cronie",
    "centos": "dnf install cronie",
    "arch": "pacman -S cronie",
    "suse": "zypper install cronie",
    "opensuse": "zypper install cronie",
    "alpine": "apk add dcron",
}


def cron_install_hint(os_release: str | None) -> str:
    """How to install crontab on this Linux, from /etc/os-release's text (None: unreadable)."""
    fields: dict[str, str] = {}
    for line in (os_release or "").splitlines():
        key, _sep, value = line.partition("=")
        fields[key.strip()] = value.strip().strip('"')
    for distro in [fields.get("ID", ""), *fields.get("ID_LIKE", "").split()]:
        if distro in CRON_PACKAGES:
            return _("install it with `{command}` (as root), then run this again").format(
                command=CRON_PACKAGES[distro]
            )
    return _(
        "install your distribution's cron package (Debian/Ubuntu: `apt-get install cron`; "
        "Fedora: `dnf install cronie`), then run this again"
    )


def _read_os_release() -> str | None:
    try:
        return Path("/etc/os-release").read_text(encoding="utf-8")
    except OSError:
        return None


def _install_crontab(line: str) -> None:
    if sys.platform == "win32":
        raise UsageError(_("--install uses crontab; on Windows run the schtasks command printed"))
    try:
        current = subprocess.run(["crontab", "-l"], capture_output=True, text=True, check=False)
    except FileNotFoundError as exc:
        # macOS always has crontab, so a missing one is a Linux without its cron package.
        raise UsageError(
            _("crontab is not installed on this machine: {hint}").format(
                hint=cron_install_hint(_read_os_release())
            )
        ) from exc
    existing = current.stdout if current.returncode == 0 else ""
    if line in existing.splitlines():
        display.info(_("the crontab already has this line"))
        return
    new = existing + ("" if not existing or existing.endswith("\n") else "\n") + line + "\n"
    result = subprocess.run(
        ["crontab", "-"], input=new, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise AutoqueueError(
            _("crontab refused the new table: {value}").format(value=result.stderr.strip())
        )
    display.info(_("installed in the crontab"))


DEMO_HOME = Path("autoqueue-demo")


@app.command()
def demo(
    ctx: typer.Context,
    directory: Annotated[
        Path | None,
        typer.Option(
            "--dir",
            help="Home to create (or reuse) for the demo. Default: --home (or AUTOQUEUE_HOME) "
            "when given, else ./autoqueue-demo.",
        ),
    ] = None,
) -> None:
    """Add sample tasks in a fresh home and run the whole pipeline, offline, to real videos."""
    from autoqueue.cli.demo import run_demo

    state = _state(ctx)
    if directory is None:
        directory = state.home if state.home_given else DEMO_HOME
    if directory.exists() and not directory.is_dir():
        raise UsageError(_("--dir {directory} is a file, not a folder").format(directory=directory))
    started = time.monotonic()
    results = run_demo(directory.expanduser().resolve(), display.console(), db=state.db)
    display.info(_("\ndone in {value:.0f} s").format(value=time.monotonic() - started))
    failed = False
    for result in results:
        if result.video is not None:
            display.info(f"✅ {result.title}: {result.video}")
        else:
            failed = True
            display.error(f"{result.title}: {result.status}: {result.error or 'did not finish'}")
    home = directory.expanduser().resolve()
    display.info(_("local publishes (outbox): {value}").format(value=home / "outbox"))
    display.info(
        _("look around: autoqueue --home {home} list completed | logs | contents").format(home=home)
    )
    if failed:
        raise typer.Exit(1)
