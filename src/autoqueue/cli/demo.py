"""``autoqueue demo``: sample tasks in a fresh home, run to the end with a live display."""

from __future__ import annotations

import threading
import time
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.live import Live
from rich.table import Table

from autoqueue.i18n import _
from autoqueue.kinds import QueueType
from autoqueue.layout import VIDEO
from autoqueue.repo import logs as logs_repo
from autoqueue.repo import queue as queue_repo
from autoqueue.repo import tasks as tasks_repo
from autoqueue.tasks.add import AddRequest, add_task, prepare_add
from autoqueue.tasks.control import retry_task
from autoqueue.tasks.home import init_home
from autoqueue.timeutil import utcnow
from autoqueue.worker.report import TickReport
from autoqueue.worker.start import open_worker
from autoqueue.workspace import Workspace

SAMPLE_IMAGES = (
    ("photo_landscape.jpg", (1600, 900), (40, 110, 160)),
    ("photo_portrait.png", (900, 1400), (170, 90, 60)),
    ("photo_square.jpg", (1000, 1000), (60, 140, 80)),
)


@dataclass(frozen=True)
class DemoResult:
    task_id: str
    title: str
    status: str
    video: Path | None
    error: str | None


def make_sample_images(folder: Path) -> list[Path]:
    """Pictures of mixed sizes and orientations, as a user's own photos would be."""
    from PIL import Image, ImageDraw

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for number, (name, size, colour) in enumerate(SAMPLE_IMAGES, start=1):
        image = Image.new("RGB", size, colour)
        draw = ImageDraw.Draw(image)
        width, height = size
        for ring in range(6, 0, -1):
            shade = tuple(min(255, c + ring * 18) for c in colour)
            radius = min(width, height) * ring // 14
            draw.ellipse(
                (
                    width // 2 - radius,
                    height // 2 - radius,
                    width // 2 + radius,
                    height // 2 + radius,
                ),
                fill=shade,
            )
        draw.rectangle((0, 0, width - 1, height - 1), outline=(255, 255, 255), width=12)
        draw.text((40, 40), f"photo {number}: {width}x{height}", fill=(255, 255, 255))
        path = folder / name
        image.save(path)
        paths.append(path)
    return paths


# A soft pad of four chords (C, Am, F, G), 16.6 s that the render loops, made here from sine
# waves: background music that belongs to nobody, so that the demo's pauses are not dead air.
_CHORDS = (
    (130.81, 164.81, 196.00, 261.63),
    (110.00, 164.81, 220.00, 261.63),
    (87.31, 174.61, 220.00, 261.63),
    (98.00, 196.00, 246.94, 293.66),
)
DEMO_MUSIC = "autoqueue-demo-pad.m4a"


def make_demo_music(folder: Path, ffmpeg: str) -> Path:
    """The demo's background track in ``folder`` (the home's music/ folder), made once."""
    import subprocess

    target = folder / DEMO_MUSIC
    if target.is_file():
        return target
    folder.mkdir(parents=True, exist_ok=True)
    inputs: list[str] = []
    for low, second, third, top in _CHORDS:
        wave = (
            f"0.09*(sin(2*PI*{low}*t)+0.8*sin(2*PI*{second}*t+0.4*sin(2*PI*0.3*t))"
            f"+0.7*sin(2*PI*{third}*t)+0.5*sin(2*PI*{top}*t+0.3*sin(2*PI*0.2*t)))"
        )
        inputs += ["-f", "lavfi", "-i", f"aevalsrc='{wave}':s=48000:d=4.6"]
    graph = (
        "[0][1]acrossfade=d=0.6[a];[a][2]acrossfade=d=0.6[b];[b][3]acrossfade=d=0.6,"
        "lowpass=f=1800,aecho=0.8:0.7:120|240:0.25|0.15,"
        "afade=t=in:d=0.05,afade=t=out:st=16.55:d=0.05,atrim=0:16.6"  # a loop without a dip
    )
    temporary = folder / ("." + DEMO_MUSIC)
    subprocess.run(
        [ffmpeg, "-hide_banner", "-v", "error", "-y", *inputs, "-filter_complex", graph,
         "-c:a", "aac", "-b:a", "128k", "-f", "mp4", str(temporary)],
        capture_output=True, check=True, timeout=120,
    )  # fmt: skip
    temporary.replace(target)
    return target


DEMO_SETTING = "demo"  # tasks.settings key that marks the sample tasks (value: which sample)


def _samples(images: list[Path]) -> dict[str, AddRequest]:
    return {
        "product": AddRequest(
            title="초간편 무선 가습기 리뷰",
            type="product",
            media_mode="crawl",
            product_info=(
                '{"name": "무선 가습기", "price": "39,000원", '
                '"features": ["무소음 설계", "한 번 충전으로 8시간", "USB-C 충전"]}'
            ),
            settings=[f"{DEMO_SETTING}=product"],
        ),
        "longform": AddRequest(
            title="A week of home cooking",
            type="longform",
            media_mode="crawl",
            settings=[f"{DEMO_SETTING}=longform"],
        ),
        "upload": AddRequest(
            title="Our trip in three photos",
            type="shortform",
            media_mode="upload",
            images=images,
            settings=[f"{DEMO_SETTING}=upload"],
        ),
    }


def _add_samples(workspace: Workspace) -> tuple[list[str], int]:
    """The sample tasks: those already in this home (a second demo run adds none again; one
    that failed is retried), and the missing ones added. Returns their ids and how many were
    added."""
    ids: list[str] = []
    added = 0
    with closing(workspace.connect()) as conn:
        existing = tasks_repo.by_setting(conn, DEMO_SETTING)
        missing = [key for key in ("product", "longform", "upload") if key not in existing]
        images = make_sample_images(workspace.home / "demo-images") if "upload" in missing else []
        requests = _samples(images)
        for key in ("product", "longform", "upload"):
            if key in existing:
                task_id = existing[key]
                if queue_repo.latest_failed(conn, task_id) and not queue_repo.active_count(
                    conn, task_id
                ):
                    retry_task(conn, task_id, utcnow())
                ids.append(task_id)
                continue
            now = utcnow()
            prepared = prepare_add(workspace, requests[key], now)
            ids.append(add_task(workspace, conn, prepared, now).task_id)
            added += 1
    return ids, added


def _status_table(workspace: Workspace, task_ids: list[str], elapsed: float) -> Table:
    table = Table(title=f"autoqueue demo ({elapsed:.0f} s)", show_edge=False)
    for column in ("task", "title", "stage", "status", "latest"):
        table.add_column(column, overflow="ellipsis", no_wrap=True)
    conn = workspace.connect()
    try:
        for task_id in task_ids:
            task = tasks_repo.get(conn, task_id)
            items = queue_repo.for_task(conn, task_id)
            latest = logs_repo.query(conn, logs_repo.LogFilter(task_id=task_id, limit=1))
            item = items[-1] if items else None
            table.add_row(
                task_id[:8],
                task.title if task else "",
                item.queue_type.value if item else "-",
                item.status.value if item else "-",
                latest[0].message if latest else "",
            )
    finally:
        conn.close()
    return table


def _check_font(directory: Path) -> None:
    """The demo's first video is Korean: without a font that draws Hangul it would fail at
    its image stage, so the demo says how to fix that before it starts anything."""
    from autoqueue.config import CONFIG_NAME, load_config
    from autoqueue.errors import UsageError
    from autoqueue.kinds import QueueType
    from autoqueue.stages import fonts

    configured = None
    if (directory / CONFIG_NAME).is_file():
        configured = load_config(directory / CONFIG_NAME).stage(QueueType.IMAGE).font
    if configured:
        path = Path(configured).expanduser()
        configured = str(path if path.is_absolute() else directory / path)
    font = configured or fonts.find_cjk_font() or fonts.find_plain_font()
    problem = fonts.coverage_problem(font, [_samples([])["product"].title])
    if problem is not None:
        raise UsageError(problem)


def run_demo(
    directory: Path, console: Console, *, db: Path | str | None = None, max_seconds: float = 600
) -> list[DemoResult]:
    """Create (or reuse) ``directory`` as a home, add the sample tasks unless they are there
    already, and run them to the end."""
    _check_font(directory)
    workspace = Workspace.load(directory, db)
    init_home(workspace)
    workspace = Workspace.load(directory, db)
    if not workspace.config.stage(QueueType.VIDEO).music:
        from autoqueue.stages.ffmpeg import binary

        exe = binary(workspace.config.stage(QueueType.VIDEO).ffmpeg, workspace.home)
        make_demo_music(workspace.home / "music", exe)
    task_ids, added = _add_samples(workspace)
    if added < len(task_ids):
        console.print(
            _(
                "the demo's tasks are already in {home}: running what is left of them "
                "(use another --dir for a fresh demo)"
            ).format(home=workspace.home)
        )
    report: list[TickReport] = []
    worker = open_worker(workspace)
    thread = threading.Thread(
        target=lambda: report.append(worker.run(drain=True, max_seconds=max_seconds)),
        name="demo-worker",
    )
    started = time.monotonic()
    thread.start()
    with Live(console=console, refresh_per_second=4, transient=False) as live:
        while thread.is_alive():
            live.update(_status_table(workspace, task_ids, time.monotonic() - started))
            thread.join(timeout=0.25)
        live.update(_status_table(workspace, task_ids, time.monotonic() - started))
    results = []
    with closing(workspace.connect()) as conn:
        for task_id in task_ids:
            task = tasks_repo.get(conn, task_id)
            items = queue_repo.for_task(conn, task_id)
            done = (
                bool(items)
                and items[-1].queue_type.value == "youtube"
                and (items[-1].status.value == "completed")
            )
            video = workspace.task_dir(task_id) / VIDEO
            results.append(
                DemoResult(
                    task_id=task_id,
                    title=task.title if task else "",
                    status="completed" if done else (items[-1].status.value if items else "none"),
                    video=video if done and video.is_file() else None,
                    error=task.last_error if task else None,
                )
            )
    return results
