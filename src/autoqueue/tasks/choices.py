"""The user's words for the domain's choices: an enum's value as typed, a tab by its English or
Korean name."""

from __future__ import annotations

from enum import StrEnum
from typing import TypeVar

from autoqueue.errors import UsageError
from autoqueue.i18n import _
from autoqueue.kinds import QueueType, Tab

E = TypeVar("E", bound=StrEnum)

TAB_ALIASES = {
    "예약큐": Tab.SCHEDULE,
    "예약": Tab.SCHEDULE,
    "대본큐": Tab.SCRIPT,
    "대본": Tab.SCRIPT,
    "이미지큐": Tab.IMAGE,
    "이미지": Tab.IMAGE,
    "영상큐": Tab.VIDEO,
    "영상": Tab.VIDEO,
    "유튜브큐": Tab.YOUTUBE,
    "유튜브": Tab.YOUTUBE,
    "실패": Tab.FAILED,
    "완료": Tab.COMPLETED,
}


def parse_choice(enum: type[E], value: str, what: str) -> E:
    """Read an enum value from the command line, naming the choices when it is unknown."""
    try:
        return enum(value.strip().lower())
    except ValueError:
        choices = ", ".join(member.value for member in enum)
        raise UsageError(
            _("unknown {what} {value!r} (choose from: {choices})").format(
                what=what, value=value, choices=choices
            )
        ) from None


def parse_tab(value: str) -> Tab:
    """A tab name in English or Korean (예약큐, 대본큐, 이미지큐, 영상큐, 유튜브큐, 실패, 완료)."""
    alias = TAB_ALIASES.get(value.strip())
    return alias if alias is not None else parse_choice(Tab, value, "tab")


def parse_queues(text: str | None) -> frozenset[QueueType] | None:
    """``--queues video,image`` as queue types; None (every type) when not given."""
    if text is None:
        return None
    names = [part.strip().lower() for part in text.split(",") if part.strip()]
    if not names:
        raise UsageError(_("--queues wants queue types, e.g. --queues video,image"))
    chosen: set[QueueType] = set()
    for name in names:
        try:
            chosen.add(QueueType(name))
        except ValueError:
            choices = ", ".join(q.value for q in QueueType)
            raise UsageError(
                _("unknown queue type {name!r} in --queues (choose from: {choices})").format(
                    name=name, choices=choices
                )
            ) from None
    return frozenset(chosen)
