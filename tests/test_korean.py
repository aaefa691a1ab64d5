"""Korean made speakable: numbers native or Sino-Korean by their counter, dates, times, prices,
units and acronyms spelled out, one spoken segment for each written token."""

from __future__ import annotations

import pytest

from autoqueue.voices.korean import speakable, speakable_token

CASES = [
    # Native numbers before native counters, in their attributive forms.
    ("3개", "세 개"),
    ("8시간.", "여덟 시간."),
    ("1명", "한 명"),
    ("2마리를", "두 마리를"),
    ("4잔", "네 잔"),
    ("20살", "스무 살"),
    ("21살", "스물한 살"),
    ("99개", "아흔아홉 개"),
    ("3번", "세 번"),
    ("1번째", "첫 번째"),
    ("2번째로", "두 번째로"),
    ("3시", "세 시"),
    ("5가지", "다섯 가지"),
    ("2켤레", "두 켤레"),
    ("12송이", "열두 송이"),
    ("3대", "세 대"),
    # Above 99, and words that only begin like a native counter: Sino-Korean.
    ("100개", "백 개"),
    ("150명", "백오십 명"),
    ("3개월", "삼 개월"),
    ("5달러", "오 달러"),
    ("20대", "이십 대"),
    ("제3장", "제삼 장"),
    # Sino-Korean counters and big numbers grouped by 만, 억, 조.
    ("5분", "오 분"),
    ("30초", "삼십 초"),
    ("3층", "삼 층"),
    ("2배", "이 배"),
    ("39,000원", "삼만 구천 원"),
    ("1,250,000원", "백이십오만 원"),
    ("10000", "만"),
    ("1000원", "천 원"),
    ("110,000", "십일만"),
    ("100000000", "일억"),
    ("1억", "일억"),
    ("2천만", "이천만"),
    ("10만원", "십만 원"),
    ("1.5억", "일억 오천만"),
    ("3은", "삼은"),
    ("0개", "영 개"),
    # Months, dates and times.
    ("6월", "유월"),
    ("10월에", "시월에"),
    ("12월", "십이 월"),
    ("2026년 12월 6일", "이천이십육 년 십이 월 육 일"),
    ("2026-12-06", "이천이십육 년 십이 월 육 일"),
    ("2026.12.06.", "이천이십육 년 십이 월 육 일."),
    ("2026-06-15에", "이천이십육 년 유월 십오 일에"),
    ("09:30", "아홉 시 삼십 분"),
    ("14:00", "열네 시"),
    ("12:30:15", "열두 시 삼십 분 십오 초"),
    # Prices.
    ("₩39,000", "삼만 구천 원"),
    ("$19.99", "십구 달러 구십구 센트"),
    ("$5", "오 달러"),
    ("$0.99", "구십구 센트"),
    ("€10.50", "십 유로 오십 센트"),
    ("$5에", "오 달러에"),
    # Decimals and percentages.
    ("1.5배", "일 점 오 배"),
    ("3.14", "삼 점 일사"),
    ("30%", "삼십 퍼센트"),
    ("4.5%", "사 점 오 퍼센트"),
    ("30%가", "삼십 퍼센트가"),
    # Acronyms, letter by letter.
    ("AI", "에이아이"),
    ("AI가", "에이아이가"),
    ("TV", "티비"),
    ("5G", "오지"),
    ("LTE", "엘티이"),
    ("USB-C", "유에스비 씨"),
    ("USB-C.", "유에스비 씨."),
    ("PS5", "피에스오"),
    # Units after numbers.
    ("5000mAh", "오천 밀리암페어시"),
    ("256GB", "이백오십육 기가바이트"),
    ("2kg", "이 킬로그램"),
    ("500ml", "오백 밀리리터"),
    ("1.5L", "일 점 오 리터"),
    ("65W", "육십오 와트"),
    ("120Hz", "백이십 헤르츠"),
    # Ranges and phone numbers.
    ("3~5개", "세에서 다섯 개"),
    ("10~20%", "십에서 이십 퍼센트"),
    ("010-1234-5678", "공일공 일이삼사 오육칠팔"),
    # Left as written.
    ("iPhone", "iPhone"),
    ("Hello", "Hello"),
    ("안녕하세요.", "안녕하세요."),
    ("I", "I"),
    ("...", "..."),
    ("(8시간).", "(여덟 시간)."),
    # A number and its counter or unit written apart.
    ("8 시간", "여덟 시간"),
    ("1 번째", "첫 번째"),
    ("5 시간이", "다섯 시간이"),
    ("256 GB를", "이백오십육 기가바이트를"),
    ("3 개발자", "삼 개발자"),
    ("20 대", "이십 대"),
    ("8 분", "팔 분"),
]


@pytest.mark.no_db
@pytest.mark.parametrize(("written", "spoken"), CASES)
def test_korean_is_read_as_a_korean_voice_should(written: str, spoken: str) -> None:
    assert speakable(written) == spoken


LINES = [
    "배터리는 5000mAh, 충전은 65W로 1시간 30분이면 끝납니다.",
    "2026-12-06 09:30에 USB-C 모델이 $19.99에 나옵니다!",
    "AI가 3개 중 2개를 골랐고, 만족도는 4.5%p 올랐다.",
]


@pytest.mark.no_db
@pytest.mark.parametrize("line", LINES)
def test_each_written_token_is_one_spoken_segment(line: str) -> None:
    """The caption code maps the voice's words back onto the written tokens one to one."""
    segments = [speakable_token(token) for token in line.split()]
    assert all(segment and not segment.isspace() for segment in segments)
    assert " ".join(segments) == speakable(line)


@pytest.mark.no_db
def test_a_bare_number_reads_native_before_a_native_counter_token() -> None:
    # Alone the number cannot know its counter; the line can, and keeps one segment per token.
    assert speakable_token("8") == "팔"
    assert speakable("약 8 시간 동안") == "약 여덟 시간 동안"
    assert speakable("8 시간").split(" ", 1) == ["여덟", "시간"]
