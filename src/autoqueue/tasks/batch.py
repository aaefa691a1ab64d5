"""Many tasks at once (``add --from FILE``): a CSV file whose header row names ``add``'s options,
or JSON Lines with the same keys; every row checked exactly as ``add`` checks its options
(:func:`autoqueue.tasks.add.prepare_add`), then all of them added in one transaction, or none.

A refusal names the file, the row's line and its column (CSV) or key (JSON Lines), in one line.
``--set`` and ``--image`` repeat: in CSV by repeating the column (``set,set``: one ``key=value``
per cell), or by a ``set.KEY`` column whose cells are the values; in JSON Lines as a list (or,
for ``set``, an object of keys and values). Options given on the command line beside
``--from`` are every row's defaults: a row's own cell wins (docs/batches.md)."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from autoqueue.errors import FieldError, UsageError
from autoqueue.i18n import _
from autoqueue.tasks.add import AddRequest, PreparedTask, prepare_add

if TYPE_CHECKING:
    from autoqueue.workspace import Workspace

# A column (CSV) or key (JSON Lines) → the AddRequest field it fills: add's option names.
COLUMNS = {
    "title": "title", "type": "type", "media_mode": "media_mode", "at": "at", "repeat": "repeat",
    "tz": "tz", "privacy": "privacy", "publish_at": "publish_at", "channel": "channel",
    "product_info": "product_info", "set": "settings", "image": "images", "user": "user",
    "max_retry": "max_retry", "review": "review",
}  # fmt: skip
REPEATABLE = ("set", "image")
JSON_SUFFIXES = (".jsonl", ".ndjson", ".json")
MAX_RETRY = (0, 1000)  # the option's own bounds


@dataclass(frozen=True)
class Row:
    """One task of a batch: where it is in the file, and add's options as it gives them."""

    line: int
    request: AddRequest
    # the AddRequest fields this row set, and the column (or key) each came from
    columns: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Batch:
    path: Path
    json_lines: bool
    rows: list[Row]

    def refusal(self, row: Row, exc: UsageError) -> UsageError:
        """``exc`` as one line naming the file, the row's line and, when the row gave the
        field that is wrong, its column (or key)."""
        message = " ".join(str(exc).split())
        field_name = exc.field if isinstance(exc, FieldError) else None
        column = row.columns.get(field_name) if field_name else None
        return self.error(row.line, message, column)

    def error(self, line: int, message: str, column: str | None = None) -> UsageError:
        if column is None:
            text = _("{file}, line {line}: {message}")
        elif self.json_lines:
            text = _("{file}, line {line}, key {column}: {message}")
        else:
            text = _("{file}, line {line}, column {column}: {message}")
        return UsageError(text.format(file=self.path, line=line, column=column, message=message))


def column_field(name: str) -> str | None:
    """The AddRequest field a column (or key) fills, as add's option is named (``media_mode``,
    ``media-mode`` and ``--media-mode`` alike); None for a name add has no option for."""
    key = name.strip().lower().lstrip("-").replace("-", "_")
    return COLUMNS.get(key)


def read_batch(path: Path, defaults: dict[str, Any] | None = None) -> Batch:
    """Read a batch file: JSON Lines when it is named ``*.jsonl`` (or ``.ndjson``, ``.json``) or
    starts with ``{``, else CSV. UTF-8, with or without a byte order mark (Excel writes one).
    ``defaults`` (AddRequest fields) are the command line's options, under each row's own."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UsageError(
            _("cannot use {path}: {reason}").format(path=path, reason=exc.strerror or exc)
        ) from exc
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise UsageError(
            _(
                "{file}, line {line}: not UTF-8 text; save the file as UTF-8 (in Excel: "
                '"CSV UTF-8")'
            ).format(file=path, line=line)
        ) from None
    json_lines = path.suffix.lower() in JSON_SUFFIXES or text.lstrip().startswith("{")
    batch = Batch(path, json_lines, [])
    rows = _json_rows(batch, text) if json_lines else _csv_rows(batch, text)
    if not rows:
        raise UsageError(_("{file} has no tasks in it").format(file=path))
    base = dict(defaults or {})
    folder = path.parent
    for index, row in enumerate(rows):
        fields = {**base, **{name: getattr(row.request, name) for name in row.columns}}
        if "settings" in base and "settings" in row.columns:  # the row's keys after the defaults
            fields["settings"] = [*base["settings"], *row.request.settings]
        if "images" in row.columns:
            fields["images"] = [_beside(folder, image) for image in row.request.images]
        info = fields.get("product_info")
        if isinstance(info, str) and info.startswith("@") and "product_info" in row.columns:
            fields["product_info"] = "@" + str(_beside(folder, Path(info[1:])))
        rows[index] = replace(row, request=AddRequest(**fields))
    return replace(batch, rows=rows)


def _beside(folder: Path, path: Path) -> Path:
    """A file a batch names: relative to the batch file's folder, not to where add runs."""
    path = path.expanduser()
    return path if path.is_absolute() else folder / path


def _csv_rows(batch: Batch, text: str) -> list[Row]:
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, None)
        if header is None or not any(cell.strip() for cell in header):
            raise UsageError(
                _("{file} has no header row: its first line names add's options ({names})").format(
                    file=batch.path, names=", ".join(COLUMNS)
                )
            )
        fields = _header(batch, header)
        rows = []
        last = reader.line_num
        for cells in reader:
            line, last = last + 1, reader.line_num
            if not any(cell.strip() for cell in cells):
                continue  # a blank line
            if len(cells) > len(header):
                raise batch.error(
                    line,
                    _("{count} cells, but the header names {columns} columns").format(
                        count=len(cells), columns=len(header)
                    ),
                )
            rows.append(_csv_row(batch, line, header, fields, cells))
    except csv.Error as exc:
        raise batch.error(reader.line_num, str(exc)) from None
    return rows


def _header(batch: Batch, header: list[str]) -> list[tuple[str, str | None]]:
    """Each column's AddRequest field, and for a ``set.KEY`` column its key."""
    fields: list[tuple[str, str | None]] = []
    seen: set[str] = set()
    for cell in header:
        name = cell.strip()
        if name.lower().startswith("set.") and name[4:].strip():
            fields.append(("settings", name[4:].strip()))
            continue
        found = column_field(name)
        if found is None:
            raise batch.error(
                1,
                _("unknown column; the columns are add's options: {names}").format(
                    names=", ".join(COLUMNS) + ", set.KEY"
                ),
                name,
            )
        if found in seen and found not in ("settings", "images"):
            raise batch.error(
                1, _("the column is given twice (only set and image may repeat)"), name
            )
        seen.add(found)
        fields.append((found, None))
    if "title" not in seen:
        raise batch.error(1, _("the header has no title column"))
    return fields


def _csv_row(
    batch: Batch,
    line: int,
    header: list[str],
    fields: list[tuple[str, str | None]],
    cells: list[str],
) -> Row:
    values: dict[str, Any] = {}
    columns: dict[str, str] = {}
    for (name, key), column, cell in zip(fields, header, cells, strict=False):
        if not cell.strip() and name != "title":
            continue  # an empty cell: the option is not given
        columns.setdefault(name, column.strip())
        if name == "settings":
            values.setdefault(name, []).append(f"{key}={cell}" if key else cell)
        elif name == "images":
            values.setdefault(name, []).append(Path(cell.strip()))
        elif name == "max_retry":
            values[name] = _whole(batch, line, column.strip(), cell)
        elif name == "review":
            values[name] = _yes_no(batch, line, column.strip(), cell)
        else:
            values[name] = cell
    values.setdefault("title", "")
    columns.setdefault("title", "title")
    return Row(line, AddRequest(**values), columns)


def _whole(batch: Batch, line: int, column: str, value: Any) -> int:
    """``max_retry``'s value, as the option takes it: a whole number from 0 to 1000."""
    try:
        number = int(str(value).strip()) if not isinstance(value, bool) else None
    except ValueError:
        number = None
    if number is None or not MAX_RETRY[0] <= number <= MAX_RETRY[1]:
        raise batch.error(
            line,
            _("--max-retry wants a whole number from 0 to 1000, not {value!r}").format(value=value),
            column,
        )
    return number


_YES = ("true", "yes", "1", "review")
_NO = ("false", "no", "0", "no-review", "no_review")


def _yes_no(batch: Batch, line: int, column: str, value: Any) -> bool:
    """``review``'s value, as ``--review`` / ``--no-review``: true or false (yes / no, 1 / 0)."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _YES or text in _NO:
        return text in _YES
    raise batch.error(
        line, _("--review wants true or false, not {value!r}").format(value=value), column
    )


def _json_rows(batch: Batch, text: str) -> list[Row]:
    rows = []
    for line, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            value = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise batch.error(line, _("not JSON: {reason}").format(reason=exc.msg)) from None
        if not isinstance(value, dict):
            raise batch.error(line, _("each line must be one JSON object, as {example}").format(
                example='{"title": "..."}'
            ))  # fmt: skip
        rows.append(_json_row(batch, line, value))
    return rows


def _json_row(batch: Batch, line: int, value: dict[str, Any]) -> Row:
    values: dict[str, Any] = {}
    columns: dict[str, str] = {}
    for key, item in value.items():
        name = column_field(key)
        if name is None:
            raise batch.error(
                line,
                _("unknown key; the keys are add's options: {names}").format(
                    names=", ".join(COLUMNS)
                ),
                key,
            )
        if item is None:
            continue
        if name in columns:
            raise batch.error(line, _("the key is given twice"), key)
        columns[name] = key
        if name == "settings":
            values[name] = _json_settings(batch, line, key, item)
        elif name == "images":
            listed = item if isinstance(item, list) else [item]
            if not all(isinstance(one, str) for one in listed):
                raise batch.error(line, _("a file name or a list of them"), key)
            values[name] = [Path(one) for one in listed]
        elif name == "max_retry":
            values[name] = _whole(batch, line, key, item)
        elif name == "review":
            values[name] = _yes_no(batch, line, key, item)
        elif name == "product_info" and isinstance(item, dict | list):
            values[name] = json.dumps(item, ensure_ascii=False)
        elif isinstance(item, str) or (
            isinstance(item, int | float) and not isinstance(item, bool)
        ):
            values[name] = str(item)
        else:
            raise batch.error(line, _("must be text"), key)
    values.setdefault("title", "")
    columns.setdefault("title", "title")
    return Row(line, AddRequest(**values), columns)


def _json_settings(batch: Batch, line: int, key: str, item: Any) -> list[str]:
    """``set`` in JSON Lines: an object of keys and values (each value as JSON, so "18:00"
    stays text), a "key=value" text, or a list of them."""
    if isinstance(item, dict):
        return [f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in item.items()]
    listed = item if isinstance(item, list) else [item]
    if not all(isinstance(one, str) for one in listed):
        raise batch.error(
            line, _('an object such as {"caption_style": "bold"}, or "key=value" texts'), key
        )
    return list(listed)


def prepare_batch(workspace: Workspace, batch: Batch, now: datetime) -> list[PreparedTask]:
    """Every row checked by ``add``'s own checks; the first row refused stops the batch."""
    prepared = []
    for row in batch.rows:
        try:
            prepared.append(prepare_add(workspace, row.request, now))
        except UsageError as exc:
            raise batch.refusal(row, exc) from None
    return prepared


class Planned(NamedTuple):
    """A task ``add --dry-run`` would add, with the line of the batch file it comes from (0:
    the command line); :meth:`as_json` is what ``--json`` prints."""

    line: int
    title: str
    type: str
    media_mode: str
    repeat: str
    tz: str
    next_run_at: str
    channel: str | None
    channel_profile: str | None
    privacy: str
    publish_time: str | None
    settings: dict[str, Any]
    images: list[str]
    warnings: list[str]

    def as_json(self) -> dict[str, Any]:
        return self._asdict()


def preview(lines: list[int], prepared: list[PreparedTask]) -> list[Planned]:
    """What ``add --dry-run`` shows of each task it would add."""
    return [
        Planned(
            line=line,
            title=task.title,
            type=task.task_type.value,
            media_mode=task.media_mode.value,
            repeat=task.recurrence.repeat.value,
            tz=task.recurrence.tz_name,
            next_run_at=task.next_run_at,
            channel=task.channel,
            channel_profile=task.profile,
            privacy=task.privacy.value,
            publish_time=task.publish_time,
            settings=task.settings,
            images=[str(image) for image in task.images],
            warnings=list(task.warnings),
        )
        for line, task in zip(lines, prepared, strict=True)
    ]
