"""Stages: the command handler with real programs, the schedule stage, output checks."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import psutil
import pytest

from autoqueue.kinds import QueueStatus, QueueType
from autoqueue.repo import logs as logs_repo
from autoqueue.repo import queue as queue_repo
from autoqueue.repo import tasks as tasks_repo
from autoqueue.store.db import Connection
from autoqueue.worker.tick import Worker
from autoqueue.workspace import Workspace

from .conftest import NOW, add, stage_config, write_config


def drain(workspace: Workspace) -> Worker:
    scheduler = Worker(Workspace.load(workspace.home))
    scheduler.run(drain=True, max_seconds=60)
    return scheduler


def items(conn: Connection, task_id: str) -> list[tuple[str, str, int]]:
    return [
        (q.queue_type.value, q.status.value, q.retry_count)
        for q in queue_repo.for_task(conn, task_id)
    ]


def logs(conn: Connection, task_id: str, **filters: object) -> list[logs_repo.LogEntry]:
    return list(reversed(logs_repo.query(conn, logs_repo.LogFilter(task_id=task_id, **filters))))  # type: ignore[arg-type]


def write_program(home: Path, name: str, body: str) -> None:
    (home / name).write_text(body, encoding="utf-8")


def test_a_task_runs_through_every_stage_with_real_programs(
    workspace: Workspace, conn: Connection, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    journal = tmp_path / "journal.jsonl"
    monkeypatch.setenv("JOURNAL", str(journal))
    task_id = add(
        workspace, conn, "상품 소개", media_mode="crawl", product_info='{"name": "가습기"}'
    )
    drain(workspace)
    assert [s for s, _, _ in items(conn, task_id)] == [
        "schedule",
        "script",
        "image",
        "video",
        "youtube",
    ]
    assert {status for _, status, _ in items(conn, task_id)} == {"completed"}
    task = tasks_repo.get(conn, task_id)
    assert task is not None and task.youtube_url == f"https://youtu.be/{task_id[:8]}"
    events = [json.loads(line) for line in journal.read_text().splitlines()]
    task_dir = workspace.task_dir(task_id)
    assert {e["cwd"] for e in events if e["event"] == "start"} == {str(task_dir)}
    starts = logs(conn, task_id, action="start")
    assert [s.queue_type.value for s in starts if s.queue_type] == [
        "schedule",
        "script",
        "image",
        "video",
        "youtube",
    ]
    script_start = starts[1]
    assert script_start.pid == next(e["pid"] for e in events if e["stage"] == "script")
    assert script_start.process_name and "python" in script_start.process_name.lower()
    # The item names the program (expanded: the Python running autoqueue, not "{python}").
    script_item = queue_repo.for_task(conn, task_id)[1]
    assert script_item.stage_process_name == Path(sys.executable).name
    progress = logs(conn, task_id, action="progress")
    assert progress and progress[0].metadata == {"current": 1, "total": 2}
    assert any(entry.message == "plain output from video" for entry in logs(conn, task_id))


def test_environment_and_task_json_reach_the_program(
    workspace: Workspace, conn: Connection
) -> None:
    write_program(
        workspace.home,
        "dump.py",
        "import json, os, pathlib\n"
        "env = {k: v for k, v in os.environ.items() if k.startswith('AUTOQUEUE_')}\n"
        "payload = json.loads(pathlib.Path(env['AUTOQUEUE_TASK_JSON']).read_text(encoding='utf-8'))\n"
        "pathlib.Path('dump.json').write_text(json.dumps({'env': env, 'payload': payload}), encoding='utf-8')\n"
        "pathlib.Path('story.json').write_text(json.dumps({'title': 't', 'scenes': [{'text': 'x'}]}))\n",
    )
    write_config(workspace.home, '[stages.script]\ncommand = ["{python}", "dump.py"]\n')
    task_id = add(
        workspace,
        conn,
        "env",
        product_info='{"name": "가습기", "price": 39000}',
        privacy="unlisted",
        channel="main",
    )
    drain(workspace)
    dump = json.loads((workspace.task_dir(task_id) / "dump.json").read_text(encoding="utf-8"))
    env = dump["env"]
    assert env["AUTOQUEUE_TASK_ID"] == task_id
    assert env["AUTOQUEUE_TASK_DIR"] == str(workspace.task_dir(task_id))
    assert env["AUTOQUEUE_QUEUE_TYPE"] == "script"
    assert env["AUTOQUEUE_ATTEMPT"] == "1"
    assert int(env["AUTOQUEUE_QUEUE_ID"]) == queue_repo.for_task(conn, task_id)[1].id
    payload = dump["payload"]
    assert payload["product_info"] == {"name": "가습기", "price": 39000}
    assert payload["settings"]["mediaMode"] == "crawl"
    assert payload["youtube"] == {
        "channel_setting_id": "main",
        "privacy": "unlisted",
        "publish_time": None,
    }
    # The task file is part of the attempt's record, beside its output and result.
    attempt = Path(env["AUTOQUEUE_TASK_JSON"]).parent
    assert attempt.parent == workspace.task_dir(task_id) / "attempts"
    assert {"spec.json", "output.jsonl", "result.json"} <= {p.name for p in attempt.iterdir()}
    assert env["AUTOQUEUE_ATTEMPT_TOKEN"] not in json.dumps(dump["payload"])


def test_exit_65_is_a_permanent_failure(workspace: Workspace, conn: Connection) -> None:
    task_id = add(workspace, conn, settings=["fail_script=permanent"])
    drain(workspace)
    assert items(conn, task_id)[-1] == ("script", "failed", 0)
    task = tasks_repo.get(conn, task_id)
    assert task is not None and task.last_error is not None
    assert "exited with code 65: bad input: cannot continue" in task.last_error


def test_other_exit_codes_are_retried(workspace: Workspace, conn: Connection) -> None:
    task_id = add(workspace, conn, settings=["fail_video=transient"], media_mode="upload")
    (workspace.task_dir(task_id)).mkdir(parents=True, exist_ok=True)
    drain(workspace)
    video = next(i for i in queue_repo.for_task(conn, task_id) if i.queue_type is QueueType.VIDEO)
    assert (video.status, video.retry_count) == (QueueStatus.COMPLETED, 1)
    retry = logs(conn, task_id, action="retry")[0]
    assert "exited with code 3: temporary trouble" in retry.message


def test_a_story_that_does_not_validate_fails_the_script_stage(
    workspace: Workspace, conn: Connection
) -> None:
    write_config(workspace.home, stage_config(max_retry=1))
    task_id = add(workspace, conn, settings=["bad_story=1"])
    drain(workspace)
    assert items(conn, task_id)[-1] == ("script", "failed", 1)
    error = queue_repo.for_task(conn, task_id)[-1].error_message
    assert error is not None and "story.json does not match the story schema: scenes" in error


def test_a_timeout_kills_the_whole_tree(
    workspace: Workspace, conn: Connection, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    journal = tmp_path / "journal.jsonl"
    monkeypatch.setenv("JOURNAL", str(journal))
    write_config(workspace.home, stage_config(timeout=2, max_retry=0))
    task_id = add(workspace, conn, settings=["child_script=1"])
    started = time.monotonic()
    drain(workspace)
    assert time.monotonic() - started < 30
    assert items(conn, task_id)[-1] == ("script", "failed", 0)
    assert queue_repo.for_task(conn, task_id)[-1].error_message == "timed out after 2 s"
    events = [json.loads(line) for line in journal.read_text().splitlines()]
    pids = [e["pid"] for e in events if e["event"] == "start"] + [
        e["child_pid"] for e in events if e["event"] == "child"
    ]
    assert len(pids) == 2
    for pid in pids:
        assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE


def test_a_command_handler_without_a_command_fails_permanently_naming_the_key(
    workspace: Workspace, conn: Connection
) -> None:
    write_config(
        workspace.home, stage_config(stages=("script",)) + '[stages.image]\nhandler = "command"\n'
    )
    task_id = add(workspace, conn)
    drain(workspace)
    assert items(conn, task_id)[-1] == ("image", "failed", 0)
    error = queue_repo.for_task(conn, task_id)[-1].error_message
    assert error is not None and "[stages.image] command" in error


def test_a_missing_program_fails_permanently(workspace: Workspace, conn: Connection) -> None:
    write_config(workspace.home, '[stages.script]\ncommand = ["no-such-program-anywhere"]\n')
    task_id = add(workspace, conn)
    drain(workspace)
    assert items(conn, task_id)[-1] == ("script", "failed", 0)
    assert "cannot start 'no-such-program-anywhere'" in (
        queue_repo.for_task(conn, task_id)[-1].error_message or ""
    )


@pytest.mark.slow
def test_output_beyond_the_line_budget_is_counted_not_logged(
    workspace: Workspace, conn: Connection
) -> None:
    write_program(
        workspace.home,
        "chatty.py",
        "import json\nfor i in range(50): print('line', i)\n"
        "open('story.json', 'w').write(json.dumps({'title': 't', 'scenes': [{'text': 'x'}]}))\n",
    )
    write_config(
        workspace.home, '[stages.script]\ncommand = ["{python}", "chatty.py"]\nmax_log_lines = 10\n'
    )
    task_id = add(workspace, conn)
    drain(workspace)
    lines = [e for e in logs(conn, task_id, queue_type="script") if e.message.startswith("line ")]
    assert len(lines) == 10
    assert any(
        e.message == "40 more output lines were not logged (max_log_lines)"
        for e in logs(conn, task_id)
    )


@pytest.mark.slow
def test_a_20_mb_line_is_cut_and_memory_stays_small(workspace: Workspace, conn: Connection) -> None:
    """A program that prints a 20 MB line (a base64 blob, a minified page) leaves a log row of a
    few kilobytes that says how much was cut, and an attempt output file to match."""
    write_program(
        workspace.home,
        "blob.py",
        "import json, sys\nsys.stdout.write('x' * 20_000_000 + '\\n')\nprint('after the blob')\n"
        "open('story.json', 'w').write(json.dumps({'title': 't', 'scenes': [{'text': 'x'}]}))\n",
    )
    write_config(workspace.home, '[stages.script]\ncommand = ["{python}", "blob.py"]\n')
    task_id = add(workspace, conn)
    drain(workspace)
    assert items(conn, task_id)[1] == ("script", "completed", 0)
    [blob] = [e for e in logs(conn, task_id) if e.message.startswith("xxxx")]
    assert len(blob.message) < 10_000
    assert blob.message.endswith(f"… [{20_000_000 - 8192} more bytes of this line not kept]")
    assert any(e.message == "after the blob" for e in logs(conn, task_id))
    [attempt] = (workspace.task_dir(task_id) / "attempts").glob("*-script-1")
    assert (attempt / "output.jsonl").stat().st_size < 100_000


def test_upload_images_survive_and_outputs_are_archived_between_runs(
    workspace: Workspace, conn: Connection, tmp_path: Path
) -> None:
    image = tmp_path / "photo.PNG"
    __import__("PIL.Image").Image.new("RGB", (40, 30), (200, 100, 0)).save(image, format="PNG")
    photo = image.read_bytes()
    task_id = add(workspace, conn, media_mode="upload", images=[image], repeat="daily")
    folder = workspace.task_dir(task_id)
    assert (folder / "scene_01.png").read_bytes() == photo
    drain(workspace)
    first = tasks_repo.get(conn, task_id)
    # Once, in a full run on PostgreSQL, the first run had not finished after the drain (no
    # error, not reproduced since): say what the items and the log saw if it happens again.
    seen = (items(conn, task_id), [e.message for e in logs(conn, task_id)][-15:])
    assert first is not None and first.content_id, seen
    first_video = (folder / "output.mp4").read_bytes()
    # The next day's run: the previous run's files move to runs/{content_id}, inputs stay.
    from autoqueue.queue.occurrences import enqueue_due
    from autoqueue.queue.policy import Policy

    enqueue_due(conn, Policy(), NOW.replace(year=2027))
    drain(workspace)
    archived = folder / "runs" / first.content_id
    assert (archived / "output.mp4").read_bytes() == first_video
    assert (archived / "story.json").is_file()
    assert (folder / "scene_01.png").is_file() and not (archived / "scene_01.png").exists()
    assert (folder / "output.mp4").is_file()
    from autoqueue.repo import contents as contents_repo

    old = contents_repo.get(conn, first.content_id)
    assert (
        old is not None and old.video_path == f"tasks/{task_id}/runs/{first.content_id}/output.mp4"
    )
    second = tasks_repo.get(conn, task_id)
    assert second is not None and second.content_id not in (None, first.content_id)


def test_the_schedule_stage_run_again_after_a_crash_reports_the_archive(
    workspace: Workspace, conn: Connection
) -> None:
    """The tick dies after the schedule stage moved the previous run's files but before it
    recorded that; the stage runs again (it is idempotent) and must still say where they went,
    so that the old content row is pointed at them."""
    from autoqueue.stages.base import StageContext
    from autoqueue.stages.schedule import run_schedule_stage

    task_id = add(workspace, conn, repeat="daily")
    folder = workspace.task_dir(task_id)
    folder.mkdir(parents=True)
    (folder / "output.mp4").write_bytes(b"old run")
    (folder / "story.json").write_text("{}", encoding="utf-8")
    task = tasks_repo.get(conn, task_id)
    assert task is not None
    task = task.model_copy(update={"content_id": "c-old"})
    ctx = StageContext(
        workspace=workspace, task=task, schedule=None, item=queue_repo.for_task(conn, task_id)[0]
    )
    first = run_schedule_stage(ctx).archived
    again = run_schedule_stage(ctx).archived
    assert first is not None and again is not None
    assert first.folder == again.folder == f"tasks/{task_id}/runs/c-old"
    assert set(first.moved) == set(again.moved) == {"output.mp4", "story.json"}
    assert (folder / "runs" / "c-old" / "output.mp4").read_bytes() == b"old run"


def test_a_stage_killed_by_a_signal_is_a_transient_failure(
    workspace: Workspace, conn: Connection
) -> None:
    if sys.platform == "win32":
        pytest.skip("POSIX signals")
    write_program(
        workspace.home, "suicide.py", "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)\n"
    )
    write_config(
        workspace.home,
        '[retry]\nmax_retry = 0\n[stages.script]\ncommand = ["{python}", "suicide.py"]\n',
    )
    task_id = add(workspace, conn)
    drain(workspace)
    error = queue_repo.for_task(conn, task_id)[-1].error_message or ""
    assert "killed by signal 9" in error
