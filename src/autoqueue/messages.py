"""User-visible messages that the seed wrote in Korean, in the user's language."""

from __future__ import annotations

import os

MESSAGES: dict[str, dict[str, str]] = {
    "stopped": {"en": "stopped by the user", "ko": "사용자가 작업을 중지했습니다"},
    "stop_log": {
        "en": "🛑 task stopped by the user",
        "ko": "🛑 사용자에 의해 작업이 중지되었습니다",
    },
}


def language(configured: str | None) -> str:
    """The configured language, else Korean when the locale says so, else English."""
    if configured:
        return configured
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(name)
        if value:
            return "ko" if value.lower().startswith("ko") else "en"
    return "en"


def message(key: str, lang: str) -> str:
    return MESSAGES[key].get(lang, MESSAGES[key]["en"])
