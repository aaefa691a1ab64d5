"""Written Korean as a Korean voice should say it, before any engine sees it: numbers read
native (여덟 시간) or Sino-Korean (팔 분) as the counter after them asks, dates, clock times,
prices, percentages and units spelled out, and Latin acronyms spelled letter by letter in
Hangul, so that no voice switches to English in the middle of a Korean line.

Token by token: each whitespace-separated written token becomes one spoken segment (one word or
more, never none), so that the voice's word times map back onto the written tokens for the
captions. Pure: no I/O, standard library only.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from fractions import Fraction

_DIGITS = "영일이삼사오육칠팔구"
_PLACES = ((1000, "천"), (100, "백"), (10, "십"))
_GROUPS = ((10**16, "경"), (10**12, "조"), (10**8, "억"), (10**4, "만"))
_MAGNITUDES = {"십": 10, "백": 100, "천": 1000, "만": 10**4, "억": 10**8, "조": 10**12}
# Attributive forms only: a native number is always read before its counter here (세 개).
_NATIVE_ONES = ("", "한", "두", "세", "네", "다섯", "여섯", "일곱", "여덟", "아홉")
_NATIVE_TENS = ("", "열", "스물", "서른", "마흔", "쉰", "예순", "일흔", "여든", "아흔")
# Longest first, so that 시간 wins over 시 and 번째 over 번.
_NATIVE_COUNTERS = tuple(
    sorted(
        (
            "시간", "개", "명", "살", "마리", "번", "번째", "잔", "권", "대", "시", "달", "가지",
            "곳", "병", "벌", "켤레", "장", "송이", "그루", "사람", "군데", "척", "채", "통",
            "봉지", "알", "줄",
        ),
        key=len,
        reverse=True,
    )
)  # fmt: skip
# Words that begin like a native counter but count in Sino-Korean (삼 개월, 오 달러).
_SINO_WORDS = (
    "개월", "개국", "개년", "개소", "개사", "번지", "번호", "번길", "번가", "시즌", "시리즈",
    "달러",
)  # fmt: skip
_MONTHS = {6: "유월", 10: "시월"}  # the two months whose name is not number + 월
_LETTERS = dict(
    zip(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZ",
        (
            "에이", "비", "씨", "디", "이", "에프", "지", "에이치", "아이", "제이", "케이", "엘",
            "엠", "엔", "오", "피", "큐", "알", "에스", "티", "유", "브이", "더블유", "엑스",
            "와이", "지",
        ),
        strict=True,
    )
)  # fmt: skip
# Acronyms Korean says otherwise than letter by letter (티비, not 티브이).
_CUSTOMARY = {"TV": "티비"}
_UNITS = {
    "mAh": "밀리암페어시", "kg": "킬로그램", "mg": "밀리그램", "g": "그램", "km": "킬로미터",
    "m": "미터", "cm": "센티미터", "mm": "밀리미터", "KB": "킬로바이트", "MB": "메가바이트",
    "GB": "기가바이트", "TB": "테라바이트", "W": "와트", "kW": "킬로와트", "kWh": "킬로와트시",
    "V": "볼트", "Hz": "헤르츠", "kHz": "킬로헤르츠", "MHz": "메가헤르츠", "GHz": "기가헤르츠",
    "ml": "밀리리터", "mL": "밀리리터", "L": "리터", "ms": "밀리초", "%": "퍼센트",
    "%p": "퍼센트포인트", "°C": "도", "℃": "도",
}  # fmt: skip
_CURRENCIES = {
    "₩": ("원", None), "$": ("달러", "센트"), "€": ("유로", "센트"), "£": ("파운드", "펜스"),
    "¥": ("엔", None),
}  # fmt: skip
_PARTICLES = re.compile(
    "(?:은|는|이|가|을|를|의|에|에서|에게|께|도|과|와|로|으로|만|만에|만큼|부터|까지|보다|처럼|"
    "이나|나|이랑|랑|하고|씩|쯤|째|뿐|밖에|동안|정도|간|이다|입니다|이에요|예요|이며|이고|마다|짜리)*"
)
_NUMBER = r"\d{1,3}(?:,\d{3})+|\d+"
_SPLIT = re.compile(r"([(\[{<\"'“‘「『《〈]*)(.*?)([)\]}>\"'”’」』》〉.,!?;:…·~]*)", re.DOTALL)
_BARE = re.compile(rf"[(\[{{<\"'“‘「『《〈]*({_NUMBER})")
_HANGUL = re.compile("[가-힣]+")
_UNIT = re.compile(
    "({})([가-힣]*)".format("|".join(map(re.escape, sorted(_UNITS, key=len, reverse=True))))
)
_COUNTED = re.compile(
    rf"(?P<prefix>[가-힣]*?)(?P<minus>[-−]?)(?P<num>{_NUMBER})(?:\.(?P<frac>\d+))?"
    r"(?P<big>(?:[십백천억조]|만(?!큼))*)(?P<rest>.*)"
)
_DATE = re.compile(r"(\d{4})([-./])(\d{1,2})\2(\d{1,2})([가-힣]*)")
_CLOCK = re.compile(r"(\d{1,2}):(\d{2})(?::(\d{2}))?([가-힣]*)")
_PRICE = re.compile(rf"([₩$€£¥])({_NUMBER})(?:\.(\d+))?([가-힣]*)")
_PHONE = re.compile(r"0\d{1,2}-\d{3,4}-\d{4}")
_ACRONYM = re.compile(r"([A-Z0-9]+(?:-[A-Z0-9]+)*)([가-힣]*)")


def speakable(text: str) -> str:
    """A whole Korean line: each whitespace-separated token as spoken, joined by single spaces."""
    return " ".join(speakable_tokens(text.split()))


def speakable_tokens(tokens: list[str]) -> list[str]:
    """Each written token as spoken, read with its neighbours: one spoken segment per token, so
    that the voice's word times map back onto the written words."""
    return [_in_context(tokens, i) for i in range(len(tokens))]


def speakable_token(token: str) -> str:
    """One whitespace-free written token (punctuation attached) as a Korean voice should say it."""
    lead, core, tail = _split(token)
    spoken = _read(core) if core else None
    return token if spoken is None else lead + spoken + tail


def _in_context(tokens: list[str], i: int) -> str:
    """The token at ``i``, read with its neighbours when a number is written apart from its
    counter or unit ("8 시간", "256 GB"); still one spoken segment for the one token."""
    token = tokens[i]
    bare = _BARE.fullmatch(token)
    if bare and i + 1 < len(tokens):
        value = int(bare[1].replace(",", ""))
        following = _split(tokens[i + 1])[1]
        if _counts_native(Fraction(value), following, strict=True):
            return token[: bare.start(1)] + _native(value, following)
    if i and _BARE.fullmatch(tokens[i - 1]):
        lead, core, tail = _split(token)
        unit = _UNIT.fullmatch(core)
        if unit:
            return lead + _UNITS[unit[1]] + unit[2] + tail
    return speakable_token(token)


def _split(token: str) -> tuple[str, str, str]:
    """Opening punctuation, the token, closing punctuation: "(8시간)." → "(", "8시간", ")."."""
    match = _SPLIT.fullmatch(token)
    assert match is not None  # every part of the pattern may be empty
    return match[1], match[2], match[3]


def _read(core: str) -> str | None:
    """The core of a token as spoken, or None when no rule knows it (it is then left alone)."""
    for reader in _READERS:
        spoken = reader(core)
        if spoken is not None:
            return spoken
    return None


def _sino(n: int) -> str:
    """``n`` in Sino-Korean numerals, grouped by 만, 억, 조 ("삼만 구천", "백이십오만")."""
    if n == 0:
        return "영"
    if n >= 10**20:  # past 경 nobody names the groups: digit by digit
        return "".join(_DIGITS[int(d)] for d in str(n))
    words = []
    for size, name in _GROUPS:
        group, n = divmod(n, size)
        if group:  # 만 alone, never 일만; but 일억, 일조 keep their 일
            words.append(("" if group == 1 and name == "만" else _below_10000(group)) + name)
    if n:
        words.append(_below_10000(n))
    return " ".join(words)


def _below_10000(n: int) -> str:
    """1 to 9999 in Sino-Korean, 일 dropped before 십, 백, 천 (천이백십일)."""
    out = ""
    for size, name in _PLACES:
        digit, n = divmod(n, size)
        if digit:
            out += ("" if digit == 1 else _DIGITS[digit]) + name
    return out + (_DIGITS[n] if n else "")


def _decimal(whole: int, fraction: str) -> str:
    """A decimal number, the digits after the point one by one (삼 점 일사)."""
    digits = "".join(_DIGITS[int(d)] for d in fraction)
    return f"{_sino(whole)} 점 {digits}" if fraction else _sino(whole)


def _native(n: int, counter: str) -> str:
    """1 to 99 in native Korean, in the form said before a counter (한, 두, 스무, 스물한)."""
    if n == 1 and counter.startswith("번째"):
        return "첫"
    if n == 20:
        return "스무"
    tens, ones = divmod(n, 10)
    return _NATIVE_TENS[tens] + _NATIVE_ONES[ones]


def _counts_native(value: Fraction, rest: str, strict: bool) -> bool:
    """Whether ``value`` before ``rest`` reads native: a whole 1 to 99 before a native counter.
    ``strict``: only particles may follow the counter (the counter is a token of its own)."""
    if value.denominator != 1 or not 1 <= value <= 99 or rest.startswith(_SINO_WORDS):
        return False
    counter = next((c for c in _NATIVE_COUNTERS if rest.startswith(c)), None)
    if counter is None or (counter == "대" and value % 10 == 0):
        return False  # 20대 is one's twenties, 이십 대, far more often than twenty cars
    return not strict or _PARTICLES.fullmatch(rest[len(counter) :]) is not None


def _tail(rest: str) -> str | None:
    """What follows a Sino-Korean number, as spoken with its spacing: a particle stays glued
    (삼은), a unit or a counter comes after a space (오 분, 이백 기가바이트); None if unknown."""
    if _PARTICLES.fullmatch(rest):
        return rest
    unit = _UNIT.fullmatch(rest)
    if unit:
        return f" {_UNITS[unit[1]]}{unit[2]}"
    return f" {rest}" if _HANGUL.fullmatch(rest) else None


def _counted(core: str) -> str | None:
    """A number and what follows it in the token: counter, unit, %, 만/억 or a particle."""
    match = _COUNTED.fullmatch(core)
    tail = _tail(match["rest"]) if match else None
    if match is None or tail is None:
        return None
    whole, fraction = int(match["num"].replace(",", "")), match["frac"] or ""
    big, rest = match["big"], match["rest"]
    value = Fraction(f"{whole}.{fraction or 0}") * _magnitude(big)
    native_ok = not match["prefix"].endswith("제")  # 제3회, 제2장: ordinals are Sino-Korean
    if native_ok and not big and _counts_native(value, rest, strict=False):
        number = _native(int(value), rest) + " " + rest
    elif not big and not fraction and rest.startswith("월") and whole in _MONTHS:
        number = _MONTHS[whole] + rest[1:]
    elif big and value.denominator == 1:
        number = _sino(int(value)) + tail  # 1.5억 → 일억 오천만
    else:
        number = _decimal(whole, fraction) + big + tail
    return match["prefix"] + ("마이너스 " if match["minus"] else "") + number


def _magnitude(big: str) -> int:
    """The value of written magnitudes after a number (천만 → 10 000 000)."""
    value = 1
    for name in big:
        value *= _MAGNITUDES[name]
    return value


def _date(core: str) -> str | None:
    """2026-12-06 or 2026.12.06 as 이천이십육 년 십이 월 육 일."""
    match = _DATE.fullmatch(core)
    if match is None:
        return None
    year, month, day = int(match[1]), int(match[3]), int(match[4])
    if not (1 <= month <= 12 and 1 <= day <= 31):
        return None
    named = _MONTHS.get(month, f"{_sino(month)} 월")
    return f"{_sino(year)} 년 {named} {_sino(day)} 일{match[5]}"


def _clock(core: str) -> str | None:
    """09:30 as 아홉 시 삼십 분: native hours, Sino-Korean minutes, no minutes when 00."""
    match = _CLOCK.fullmatch(core)
    if match is None:
        return None
    hour, minute, second = int(match[1]), int(match[2]), int(match[3] or 0)
    if hour > 24 or minute > 59 or second > 59:
        return None
    words = [f"{_native(hour, '시') if hour else '영'} 시"]
    if minute:
        words.append(f"{_sino(minute)} 분")
    if second:
        words.append(f"{_sino(second)} 초")
    return " ".join(words) + match[4]


def _price(core: str) -> str | None:
    """$19.99 as 십구 달러 구십구 센트, ₩39,000 as 삼만 구천 원."""
    match = _PRICE.fullmatch(core)
    if match is None:
        return None
    major, minor = _CURRENCIES[match[1]]
    whole, fraction, particle = int(match[2].replace(",", "")), match[3] or "", match[4]
    if fraction and (minor is None or len(fraction) > 2):
        return f"{_decimal(whole, fraction)} {major}{particle}"
    cents = int(fraction.ljust(2, "0")) if fraction else 0
    words = [f"{_sino(whole)} {major}"] if whole or not cents else []
    if cents:
        words.append(f"{_sino(cents)} {minor}")
    return " ".join(words) + particle


def _phone(core: str) -> str | None:
    """010-1234-5678 digit by digit, 0 as 공, as phone numbers are read."""
    if _PHONE.fullmatch(core) is None:
        return None
    return " ".join("".join("공" if d == "0" else _DIGITS[int(d)] for d in part)
                    for part in core.split("-"))  # fmt: skip


def _range(core: str) -> str | None:
    """3~5개 as 세에서 다섯 개: the first number read the way the second one is."""
    left, tilde, right = core.partition("~")
    spoken_right = _read(right) if tilde and left else None
    if spoken_right is None:
        return None
    counted = _COUNTED.fullmatch(right)
    if re.fullmatch(_NUMBER, left) and counted and not counted["prefix"]:
        value, rest = int(left.replace(",", "")), counted["rest"]
        native = not counted["big"] and _counts_native(Fraction(value), rest, strict=False)
        spoken_left = _native(value, rest) if native else _sino(value)
    else:
        spoken_left = _read(left) or left
    return f"{spoken_left}에서 {spoken_right}"


def _acronym(core: str) -> str | None:
    """USB-C as 유에스비 씨, AI가 as 에이아이가: capitals (and digits) letter by letter."""
    match = _ACRONYM.fullmatch(core)
    if match is None:
        return None
    letters = sum(c.isalpha() for c in match[1])
    if not 1 <= letters <= 6 or (match[1].isalpha() and letters == 1 and not match[2]):
        return None  # a lone capital ("I", "A") may be anything; longer is a word in capitals
    return " ".join(map(_spelled, match[1].split("-"))) + match[2]


def _spelled(part: str) -> str:
    """Capitals and digits between hyphens: letter names, digit runs as numbers (PS5 → 피에스오)."""
    if part in _CUSTOMARY:
        return _CUSTOMARY[part]
    pieces = re.findall(r"[A-Z]|\d+", part)
    return "".join(_LETTERS.get(piece) or _sino(int(piece)) for piece in pieces)


# In order: the more particular shapes first (a date is also a decimal number).
_READERS: tuple[Callable[[str], str | None], ...] = (
    _phone, _date, _clock, _price, _counted, _range, _acronym,
)  # fmt: skip
