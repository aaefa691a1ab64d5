"""`add --from FILE` in real processes: a CSV (with Excel's byte order mark, Korean titles,
repeated and `set.KEY` columns, images beside the file) or a JSON Lines file adds every row in
one transaction, or none when any row is bad, naming its line and column in one line; `--dry-run`
adds nothing; the command line's options are every row's defaults."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from autoqueue.tasks.batch import read_batch

from .conftest import run_cli, write_config
from .helpers.database import db_value, logged

BOM = "\ufeff"


def init(home: Path, config: str = 'timezone = "Asia/Seoul"\n') -> None:
    write_config(home, config)
    done = run_cli(home, "init")
    assert done.returncode == 0, done.stderr


def task_count(home: Path) -> int:
    return int(db_value(home, "SELECT count(*) FROM tasks") or 0)


def refused(home: Path, *args: str) -> str:
    """The one line a refused command printed; nothing was added and no folder was left."""
    result = run_cli(home, *args)
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr, result.stderr
    assert task_count(home) == 0
    assert [p.name for p in (home / "tasks").iterdir()] == []
    return result.stderr


def test_a_csv_from_excel_adds_every_row_in_one_go(home: Path, tmp_path: Path) -> None:
    init(home)
    folder = tmp_path / "batch"
    (folder / "pictures").mkdir(parents=True)
    for name, colour in (("a.png", (200, 0, 0)), ("b.png", (0, 200, 0))):
        Image.new("RGB", (64, 64), colour).save(folder / "pictures" / name)
    (folder / "product.json").write_text('{"name": "무선 가습기"}', encoding="utf-8")
    text = (
        BOM + "title,type,media-mode,at,repeat,privacy,set,set,set.caption_style,image,image,"
        "product_info,max_retry\r\n"
        "김치찌개 끓이는 법,shortform,crawl,2030-01-06 09:00,daily,unlisted,speed=1.2,"
        "tags=요리,karaoke,,,,2\r\n"
        '"가습기, 리뷰",product,upload,,,,,,,pictures/a.png,pictures/b.png,@product.json,\r\n'
        "\r\n"  # a blank line is no task
        '"긴 설명이 있는\n제목",longform,crawl,,,,,,,,,,\r\n'
    )
    (folder / "tasks.csv").write_text(text, encoding="utf-8", newline="")
    result = run_cli(home, "add", "--from", str(folder / "tasks.csv"), "--json")
    assert result.returncode == 0, result.stderr
    added = json.loads(result.stdout)
    assert [row["line"] for row in added] == [2, 3, 5]  # each row's first line in the file
    rows = {
        row["title"]: row
        for row in logged(home, "SELECT id, title, type, settings, max_retry FROM tasks")
    }
    assert set(rows) == {"김치찌개 끓이는 법", "가습기, 리뷰", "긴 설명이 있는\n제목"}
    first = json.loads(str(rows["김치찌개 끓이는 법"]["settings"]))
    assert (first["speed"], first["tags"], first["caption_style"]) == (1.2, ["요리"], "karaoke")
    assert rows["김치찌개 끓이는 법"]["max_retry"] == 2
    schedule = logged(
        home,
        "SELECT repeat_type, next_run_at, youtube_privacy FROM task_schedules s "
        "JOIN tasks t ON t.id = s.task_id WHERE t.title = ?",
        "김치찌개 끓이는 법",
    )[0]
    # 09:00 in the config's zone (Asia/Seoul) is 00:00 UTC
    assert tuple(schedule) == ("daily", "2030-01-06 00:00:00", "unlisted")
    upload = str(rows["가습기, 리뷰"]["id"])
    assert sorted(p.name for p in (home / "tasks" / upload).iterdir()) == [
        "scene_01.png",
        "scene_02.png",
    ]  # the pictures, named relative to the batch file's folder, copied in order
    info = db_value(home, "SELECT product_info FROM tasks WHERE id = ?", upload)
    assert json.loads(str(info)) == {"name": "무선 가습기"}
    sources = logged(home, "SELECT metadata FROM task_logs WHERE message LIKE 'task added%'")
    assert all(json.loads(str(row[0]))["from"].endswith("tasks.csv") for row in sources)


def test_a_bad_row_in_the_middle_adds_nothing_and_names_its_line_and_column(
    home: Path, tmp_path: Path
) -> None:
    init(home)
    Image.new("RGB", (64, 64)).save(tmp_path / "fine.png")
    text = (
        "title,media_mode,image,publish_at\n"
        "첫 번째,upload,fine.png,\n"
        "두 번째,upload,fine.png,\n"
        "세 번째,crawl,,어제 저녁\n"
        "네 번째,crawl,,\n"
    )
    batch = tmp_path / "tasks.csv"
    batch.write_text(text, encoding="utf-8")
    error = refused(home, "add", "--from", str(batch))
    assert f"{batch}, line 4, column publish_at: cannot read time '어제 저녁'" in error, error
    # a choice, a zone and a repeated --set, each named by the column as the header wrote it
    batch.write_text("title,Media-Mode\nok,crawl\nno,dalle4\n", encoding="utf-8")
    assert "line 3, column Media-Mode: unknown media mode 'dalle4'" in refused(
        home, "add", "--from", str(batch)
    )
    batch.write_text("title,set\nok,a=1\nno,caption_style=huge\n", encoding="utf-8")
    error = refused(home, "add", "--from", str(batch))
    assert "line 3, column set: --set caption_style: Input should be" in error, error
    batch.write_text("title,max_retry\nok,\n,2\n", encoding="utf-8")
    assert "line 3, column title: the title must not be empty" in refused(
        home, "add", "--from", str(batch)
    )
    batch.write_text("title,max_retry\nok,many\n", encoding="utf-8")
    assert "line 2, column max_retry: --max-retry wants a whole number" in refused(
        home, "add", "--from", str(batch)
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("name,type\nx,shortform\n", "line 1, column name: unknown column"),
        ("title,type,type\nx,a,b\n", "line 1, column type: the column is given twice"),
        ("type\nshortform\n", "line 1: the header has no title column"),
        ("title\n", "has no tasks in it"),
        ("title\nx,y\n", "line 2: 2 cells, but the header names 1 columns"),
        ("title,review\nx,maybe\n", "line 2, column review: --review wants true or false"),
    ],
)
def test_a_file_that_is_not_a_batch_is_refused_in_one_line(
    home: Path, tmp_path: Path, text: str, expected: str
) -> None:
    init(home)
    batch = tmp_path / "tasks.csv"
    batch.write_text(text, encoding="utf-8")
    assert expected in refused(home, "add", "--from", str(batch))


@pytest.mark.no_db
def test_a_file_that_is_not_utf8_says_how_to_save_it(tmp_path: Path) -> None:
    batch = tmp_path / "tasks.csv"
    batch.write_bytes("title\n첫 번째\n두 번째\n".encode("cp949"))  # Excel's plain "CSV" in Korea
    with pytest.raises(Exception, match=r"line 2: not UTF-8 text; save the file as UTF-8"):
        read_batch(batch)


def test_json_lines_take_the_same_keys(home: Path, tmp_path: Path) -> None:
    init(home)
    batch = tmp_path / "tasks.jsonl"
    lines = [
        {"title": "하나", "repeat": "weekly", "at": "2030-01-07 18:00", "max_retry": 1, "review": True,
         "set": {"publish_at": "18:00", "speed": "1.5", "tags": ["요리", "레시피"]}},
        {"title": "둘", "type": "product", "product_info": {"name": "텀블러", "price": 12000},
         "set": ["speed=2"], "user": 42},
    ]  # fmt: skip
    batch.write_text(
        BOM + "\n".join(json.dumps(line, ensure_ascii=False) for line in lines) + "\n\n",
        encoding="utf-8",
    )
    result = run_cli(home, "add", "--from", str(batch))
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.split()) == 2
    one = json.loads(str(db_value(home, "SELECT settings FROM tasks WHERE title = '하나'")))
    # an object's values are JSON: "1.5" stays text, a list stays a list
    assert (one["speed"], one["tags"], one["publish_at"]) == ("1.5", ["요리", "레시피"], ["18:00"])
    assert one["review"] is True  # add --review
    # a publish time of day makes the video private (YouTube publishes it then), with a warning
    assert "line 1: --publish-at needs a private video" in result.stderr
    assert db_value(home, "SELECT youtube_privacy FROM task_schedules s JOIN tasks t ON "
                    "t.id = s.task_id WHERE t.title = '하나'") == "private"  # fmt: skip
    two = logged(home, "SELECT product_info, user_id FROM tasks WHERE title = '둘'")[0]
    assert json.loads(str(two[0])) == {"name": "텀블러", "price": 12000} and two[1] == "42"
    # a bad line: nothing more is added, the key is named
    batch.write_text('{"title": "셋"}\n{"title": "넷", "tz": "Mars/Base"}\n', encoding="utf-8")
    result = run_cli(home, "add", "--from", str(batch))
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert f"{batch}, line 2, key tz: unknown time zone 'Mars/Base'" in result.stderr
    batch.write_text('{"title": "셋"}\n["넷"]\n', encoding="utf-8")
    assert "line 2: each line must be one JSON object" in run_cli(
        home, "add", "--from", str(batch)
    ).stderr
    assert task_count(home) == 2


def test_a_dry_run_shows_what_would_be_added_and_adds_nothing(
    home: Path, tmp_path: Path
) -> None:
    init(home)
    batch = tmp_path / "tasks.csv"
    batch.write_text(BOM + "title,at\n첫 번째,2030-01-06 09:00\n두 번째,\n", encoding="utf-8")
    shown = run_cli(home, "add", "--from", str(batch), "--dry-run", env={"COLUMNS": "160"})
    assert shown.returncode == 0, shown.stderr
    assert "첫 번째" in shown.stdout and "2030-01-06 09:00" in shown.stdout  # the home's zone
    assert "nothing was added" in shown.stdout
    as_json = run_cli(home, "add", "--from", str(batch), "--dry-run", "--json")
    rows = json.loads(as_json.stdout)
    assert [(r["line"], r["title"], r["next_run_at"]) for r in rows] == [
        (2, "첫 번째", "2030-01-06 00:00:00"),
        (3, "두 번째", rows[1]["next_run_at"]),  # now
    ]
    single = run_cli(home, "add", "혼자", "--dry-run", "--json")
    assert json.loads(single.stdout)[0]["title"] == "혼자"
    assert task_count(home) == 0
    assert db_value(home, "SELECT count(*) FROM task_logs") == 0


def test_the_command_lines_options_are_every_rows_defaults(home: Path, tmp_path: Path) -> None:
    init(home)
    batch = tmp_path / "tasks.csv"
    batch.write_text("title,repeat,set\n하나,,\n둘,weekly,speed=3\n", encoding="utf-8")
    result = run_cli(
        home, "add", "--from", str(batch), "--repeat", "daily", "--at", "2030-01-06 09:00",
        "--set", "speed=1", "--set", "voice=ko",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    rows = {
        str(row[0]): (str(row[1]), json.loads(str(row[2])))
        for row in logged(
            home,
            "SELECT t.title, s.repeat_type, t.settings FROM tasks t "
            "JOIN task_schedules s ON s.task_id = t.id",
        )
    }
    assert rows["하나"][0] == "daily" and rows["하나"][1]["speed"] == 1
    # the row's own cell wins; its --set keys come after the command line's
    assert rows["둘"][0] == "weekly" and rows["둘"][1]["speed"] == 3
    assert rows["둘"][1]["voice"] == "ko"
    both = run_cli(home, "add", "셋", "--from", str(batch))
    assert both.returncode == 2 and "give a TITLE or --from FILE, not both" in both.stderr
    neither = run_cli(home, "add")
    assert neither.returncode == 2 and "give the video's TITLE, or --from FILE" in neither.stderr
