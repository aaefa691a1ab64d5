"""A stage program for tests: writes the stage's rule-based outputs and journals what it did.

Behaviour per task comes from the task's settings (``add --set key=value``):
  fail_<stage>=transient|permanent|always   fail that stage once / permanently / every time
  sleep_<stage>=SECONDS                     sleep before finishing (default: STAGE_SLEEP or 0)
  child_<stage>=1                           the first time this stage runs for the task (a
                                            rerun after a crash does not), start a child process
                                            that sleeps for child_seconds (default 600), wait on it
  gate_<stage>=1                            wait (up to 2 minutes) until a file .gate_<stage>
                                            appears in the task folder: the test decides when
                                            the stage ends
  daemon_<stage>=1                          detach a daemon first (fork, setsid, fork: nobody's
                                            child, in a session of its own) that sleeps 10 minutes;
                                            =output: the daemon keeps our stdout and stderr open
  spawn_<stage>=1                           start 200 children one after another, 2 ms apart
                                            (each sleeps 10 minutes; every other one in a
                                            session of its own), then sleep 10 minutes
  kill_supervisor_<stage>=1                 SIGKILL the attempt's supervisor (our parent) first,
                                            as the OOM killer might, then finish normally
  big_line_<stage>=BYTES                    print one line of that many bytes to stdout
  bad_story=1                               write a story.json that fails validation
Every start and end is appended to $JOURNAL (one JSON object a line) when it is set.
"""

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

stage = os.environ["AUTOQUEUE_QUEUE_TYPE"]
payload = json.loads(Path(os.environ["AUTOQUEUE_TASK_JSON"]).read_text(encoding="utf-8"))
settings = payload["settings"]
task_id = os.environ["AUTOQUEUE_TASK_ID"]
attempt = int(os.environ["AUTOQUEUE_ATTEMPT"])
journal = os.environ.get("JOURNAL")


def note(event: str, **extra: object) -> None:
    if journal:
        line = {
            "event": event,
            "stage": stage,
            "task": task_id,
            "attempt": attempt,
            "pid": os.getpid(),
            "t": time.time(),
            **extra,
        }
        with open(journal, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(line) + "\n")


note("start", cwd=os.getcwd(), ppid=os.getppid())
if settings.get(f"daemon_{stage}") and hasattr(os, "fork"):
    reader, writer = os.pipe()
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            os.close(reader)
            os.write(writer, str(os.getpid()).encode())
            os.close(writer)
            # A daemon lets go of the terminal and our output pipes, unless told to keep them
            # (as a careless one does: nobody reading our output then sees it end).
            keep = (1, 2) if settings[f"daemon_{stage}"] == "output" else ()
            for fd in (0, 1, 2):
                if fd not in keep:
                    os.dup2(os.open(os.devnull, os.O_RDWR), fd)
            time.sleep(600)
        os._exit(0)
    os.close(writer)
    daemon_pid = int(os.read(reader, 64))
    os.close(reader)
    os.wait()
    note("daemon", daemon_pid=daemon_pid)
if settings.get(f"spawn_{stage}"):
    sleeper = shutil.which("sleep")
    for n in range(200):
        argv = (
            [sleeper, "600"] if sleeper else [sys.executable, "-c", "import time; time.sleep(600)"]
        )
        subprocess.Popen(argv, start_new_session=n % 2 == 1)
        time.sleep(0.002)
    time.sleep(600)
if settings.get(f"kill_supervisor_{stage}"):
    import signal

    os.kill(os.getppid(), signal.SIGKILL)
    time.sleep(0.2)
if settings.get(f"big_line_{stage}"):
    sys.stdout.write("x" * int(settings[f"big_line_{stage}"]) + "\n")
    print("after the big line")
print(json.dumps({"progress": {"current": 1, "total": 2}, "message": f"{stage} halfway"}))
print(f"plain output from {stage}")
sleep = float(settings.get(f"sleep_{stage}", os.environ.get("STAGE_SLEEP", "0")))
first_run = not Path(f".child_{stage}").exists()
if settings.get(f"child_{stage}") and first_run:
    Path(f".child_{stage}").touch()
    seconds = float(settings.get("child_seconds", 600))
    child = subprocess.Popen([sys.executable, "-c", f"import time; time.sleep({seconds})"])
    note("child", child_pid=child.pid)
    child.wait()
time.sleep(sleep)
if settings.get(f"gate_{stage}"):
    deadline = time.monotonic() + 120
    while not Path(f".gate_{stage}").exists() and time.monotonic() < deadline:
        time.sleep(0.05)

mode = settings.get(f"fail_{stage}")
if mode == "permanent":
    print("bad input: cannot continue", file=sys.stderr)
    note("end", outcome="permanent")
    sys.exit(65)
if mode == "always" or (mode == "transient" and attempt == 1):
    print("temporary trouble", file=sys.stderr)
    note("end", outcome="transient")
    sys.exit(3)

here = Path.cwd()
if stage == "script":
    if settings.get("bad_story"):
        (here / "story.json").write_text('{"title": "x", "scenes": []}', encoding="utf-8")
    else:
        story = {
            "title": payload["task"]["title"],
            "description": "test",
            "tags": ["test"],
            "scenes": [{"text": f"장면 {i}"} for i in range(1, 4)],
        }
        (here / "story.json").write_text(json.dumps(story, ensure_ascii=False), encoding="utf-8")
elif stage == "image":
    for i in range(1, 4):
        (here / f"scene_{i:02d}.png").write_bytes(b"\x89PNG fake")
elif stage == "video":
    (here / "output.mp4").write_bytes(b"fake mp4 " + task_id.encode())
    (here / "thumbnail.jpg").write_bytes(b"fake jpg")
elif stage == "youtube":
    print(json.dumps({"youtube_url": f"https://youtu.be/{task_id[:8]}"}))
note("end", outcome="ok")
