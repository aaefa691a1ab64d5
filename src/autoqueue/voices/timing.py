"""Word times estimated from the audio, for voices that report none (the OS voices, a user's TTS
program, some paid APIs): better than spreading the words evenly over the clip, which drifts
across every pause.

The clip's speech segments come from a 10 ms energy envelope (pauses under 120 ms are part of
the speech, blips are dropped). Each written word weighs its syllables; a dynamic programme
chooses which pauses fall between which words, so that every stretch of speech holds about the
syllables its length asks for, with pauses after a comma or a sentence end preferred. Within a
stretch the words' starts follow their weights. Standard library only: no numpy at run time.
"""

from __future__ import annotations

import re
import sys
import unicodedata
from array import array
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from itertools import pairwise

from autoqueue.media.espeak import Word

FRAME = 0.01  # seconds per envelope frame
ENVELOPE_RATE = 8000  # samples per second kept for the envelope: enough for loudness, fast
MERGE_PAUSE = 0.12  # a shorter silence is a stop consonant or a breath within a phrase
MIN_SEGMENT = 0.05  # shorter sound alone is a click, not a word
LENGTHENING = 1.3  # the last word before a pause is drawn out (phrase-final lengthening)
SILENCE = 30.0  # mean absolute sample value below which nothing is spoken (about -60 dBFS)

SENTENCE_ENDS = (".", "!", "?", "…", "。", "！", "？")
CLAUSE_ENDS = (",", ";", ":", "、", "，", "—", "–")

# The dynamic programme's costs, in units of one squared standard deviation of a stretch's
# length against the length its syllables ask for.
_SPREAD_PER_SECOND = 0.04  # the variance grows with the expected length (s² per s)
_SPREAD_FLOOR = 0.01  # and never vanishes (s²)
_SKIP_SCALE = 0.15  # a pause of this length skipped (inside a word) costs 1, growing squared
_MAX_SKIPPED = 12.0  # pauses that costly to skip end the search backwards (speed)
_MAX_BACK = 10  # and so does this many (a stretch of speech has seldom more within)
_BONUS_SENTENCE = 2.0  # a pause after a sentence end is likely
_BONUS_CLAUSE = 1.5  # and after a comma
_BAND = 1.0  # seconds: how far from the even mapping a pause may land among the words
_BAND_SHARE = 0.15  # plus this share of the distance to the nearer end of the clip
_BAND_MAX = 3.0  # and no more, nor more than so many tokens (the search grows with its square)
_BAND_TOKENS = 20

_FINAL = 0.4  # a Hangul block's final consonant lengthens it (measured on eSpeak)
_VOWEL_GROUP = 0.5  # an English syllable: its vowel and, about two, consonants
_CONSONANT = 0.4

_HANGUL = re.compile(r"[\uac00-\ud7a3]")
_WIDE = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff]")  # kana and CJK: about 1 each
_LATIN = re.compile(r"[A-Za-z\u00c0-\u024f]+")
_DIGIT = re.compile(r"\d")
_ACRONYM = re.compile(r"[A-Z]{2,5}")


@dataclass(frozen=True)
class _Weights:
    """Each token's syllables, each token's pause after it, and their running sums."""

    syllables: list[float]
    pauses: list[float]
    cumulative: list[float]  # syllables before token i (one more entry than tokens)


def estimate_words(pcm: bytes, rate: int, tokens: list[str]) -> list[Word]:
    """``tokens`` (the written words, in order) with start and end times estimated from
    ``pcm`` (16-bit little-endian mono at ``rate`` Hz)."""
    if not tokens:
        return []
    total = len(pcm) // 2 / rate if rate > 0 else 0.0
    weights = _weigh(tokens)
    segments = speech_segments(pcm, rate) if rate > 0 else []
    if not segments:  # nothing heard: the words spread over the clip
        return _spread(tokens, weights, 0, len(tokens), [(0.0, total)])
    words: list[Word] = []
    path = _align(segments, weights)
    for (k0, b0), (k1, b1) in pairwise(path):
        words += _spread(tokens, weights, b0, b1, segments[k0 + 1 : k1 + 1])
    return words


def envelope(pcm: bytes, rate: int) -> tuple[list[float], float]:
    """The mean absolute sample value of every frame of about 10 ms, and a frame's length."""
    samples = array("h")
    samples.frombytes(pcm[: len(pcm) // 2 * 2])
    if sys.byteorder == "big":
        samples.byteswap()
    step = max(1, rate // ENVELOPE_RATE)
    thin = samples[::step]  # every step-th sample: loudness does not need them all
    size = max(1, round(rate * FRAME / step))
    frames = [
        sum(map(abs, thin[i : i + size])) / size for i in range(0, len(thin) - size + 1, size)
    ]
    return frames, size * step / rate


def _threshold(frames: list[float]) -> float:
    """The loudness above which a frame is speech, relative to the clip's loud frames (and its
    noise floor, for a recording that is never silent)."""
    ordered = sorted(frames)
    loud = ordered[int(0.98 * (len(ordered) - 1))]  # not the very loudest: a click is no voice
    floor = ordered[int(0.05 * (len(ordered) - 1))]
    return max(SILENCE, 0.05 * loud, 2.0 * floor)


def speech_segments(pcm: bytes, rate: int) -> list[tuple[float, float]]:
    """Where the clip speaks, in seconds: short pauses merged, blips dropped."""
    frames, length = envelope(pcm, rate)
    if not frames:
        return []
    threshold = _threshold(frames)
    runs: list[list[int]] = []
    for index, value in enumerate(frames):
        if value <= threshold:
            continue
        if runs and (index - runs[-1][1]) * length < MERGE_PAUSE:
            runs[-1][1] = index + 1
        else:
            runs.append([index, index + 1])
    return [
        (start * length, end * length)
        for start, end in runs
        if (end - start) * length >= MIN_SEGMENT
    ]


def syllables(token: str) -> float:
    """About how long ``token`` takes to say, in open syllables (a Hangul block without a final
    consonant is one): a Hangul block or CJK character one, a Latin word by its vowel groups
    and consonants, an acronym one a letter, a digit one and a half (a number read aloud has
    its place words too), a word of another alphabet one per two or three letters."""
    hangul = _HANGUL.findall(token)
    count = len(hangul) + _FINAL * sum(1 for ch in hangul if (ord(ch) - 0xAC00) % 28)
    count += len(_WIDE.findall(token)) + 1.5 * len(_DIGIT.findall(token))
    latin = _LATIN.findall(token)
    count += sum(_latin_length(word) for word in latin)
    counted = len(hangul) + len(_WIDE.findall(token)) + sum(len(word) for word in latin)
    count += (sum(1 for ch in token if ch.isalpha()) - counted) / 2.5
    return max(count, 0.25)  # a symbol alone (& or %) is still said, or at least paused on


def _latin_length(word: str) -> float:
    """A Latin word's length in open syllables: its vowel groups (a rough English syllable
    count, at least one), each consonant letter lengthening it (measured on eSpeak, English
    words' length follows their consonants nearly as much as their syllables)."""
    if _ACRONYM.fullmatch(word):
        return 1.2 * len(word)  # spelled out: "TV", "NASA" read as letters or not, about so
    plain = unicodedata.normalize("NFD", word.lower()).encode("ascii", "ignore").decode()
    groups = len(re.findall(r"[aeiouy]+", plain))
    if re.search(r"[^aeiouyl]e[sd]?$", plain) and groups > 1:
        groups -= 1  # a silent final e: "come", "comes", "liked" (roughly)
    consonants = len(re.findall(r"[^aeiouy]", plain))
    return max(groups, 1) * _VOWEL_GROUP + consonants * _CONSONANT


def pause_after(token: str) -> float:
    """The pause that tends to follow ``token``, in syllables: a sentence end or a comma."""
    tail = token.rstrip("\"'”’)]」』")
    if tail.endswith(SENTENCE_ENDS):
        return 1.0
    return 0.5 if tail.endswith(CLAUSE_ENDS) else 0.0


def _weigh(tokens: list[str]) -> _Weights:
    """The tokens' syllables and pauses."""
    counts = [syllables(token) for token in tokens]
    cumulative = [0.0]
    for count in counts:
        cumulative.append(cumulative[-1] + count)
    return _Weights(counts, [pause_after(token) for token in tokens], cumulative)


def _spread(
    tokens: list[str],
    weights: _Weights,
    first: int,
    stop: int,
    segments: list[tuple[float, float]],
) -> list[Word]:
    """Tokens ``first`` to ``stop`` (exclusive) over ``segments``: each starts where the
    speech before it (counting the pauses of commas within) asks for its share of the
    segments' speaking time; the last ends where the segments do."""
    shares = [weights.syllables[i] + weights.pauses[i] for i in range(first, stop - 1)]
    shares.append(weights.syllables[stop - 1] * LENGTHENING)
    total = sum(shares)
    speaking = sum(end - start for start, end in segments)
    starts, before = [], 0.0
    for share in shares:
        starts.append(_real_time(segments, speaking * before / total))
        before += share
    ends = [*starts[1:], segments[-1][1]]
    return [Word(tokens[first + i], starts[i], max(starts[i], ends[i])) for i in range(len(starts))]


def _real_time(segments: list[tuple[float, float]], speaking: float) -> float:
    """Where the clip has spoken for ``speaking`` seconds within ``segments`` (at a segment's
    end: the next one's start, since a word starts with its sound, not in the pause)."""
    for start, end in segments:
        if speaking < end - start - 1e-9:
            return start + max(speaking, 0.0)
        speaking -= end - start
    return segments[-1][1]


@dataclass(frozen=True)
class _Clip:
    """What the alignment knows of the clip: its speaking time and pauses, and the tokens."""

    ends: list[float]  # ends[k + 1]: the speaking time (pauses left out) by segment k's end
    pauses: list[float]  # pauses[k]: the silence after segment k
    pace: float  # seconds per syllable, this clip's own
    weights: _Weights

    @property
    def last(self) -> int:
        return len(self.pauses)  # the last segment: no pause after it counts


def _clip(segments: list[tuple[float, float]], weights: _Weights) -> _Clip:
    """The alignment's view of ``segments`` and ``weights``."""
    ends = [0.0]
    for start, end in segments:
        ends.append(ends[-1] + end - start)
    pauses = [after[0] - before[1] for before, after in pairwise(segments)]
    return _Clip(ends, pauses, ends[-1] / weights.cumulative[-1], weights)


_Best = dict[tuple[int, int], tuple[float, tuple[int, int] | None]]


def _align(segments: list[tuple[float, float]], weights: _Weights) -> list[tuple[int, int]]:
    """Which pauses fall between which tokens: anchors (segment k, token b), from (-1, 0) to
    (last segment, all tokens), each saying the pause after segment k falls before token b. A
    dynamic programme over the anchors near where an even reading puts them."""
    clip = _clip(segments, weights)
    count = len(weights.syllables)
    best: _Best = {(-1, 0): (0.0, None)}
    reached: dict[int, list[int]] = {-1: [0]}
    for k in range(clip.last + 1):
        candidates = [count] if k == clip.last else _candidates(clip, k)
        for b in candidates:
            found = _best_previous(clip, best, reached, k, b)
            if found is not None:
                best[(k, b)] = found
        reached[k] = [b for b in candidates if (k, b) in best]
    if (clip.last, count) not in best:  # nothing fitted: one stretch for all
        return [(-1, 0), (clip.last, count)]
    return _path(best, (clip.last, count))


def _candidates(clip: _Clip, k: int) -> list[int]:
    """The token boundaries the pause after segment ``k`` may fall on: those an even reading
    puts near it (searching them all would be too slow on a long clip)."""
    at = clip.ends[k + 1]
    band = min(_BAND + _BAND_SHARE * min(at, clip.ends[-1] - at), _BAND_MAX)
    cumulative = clip.weights.cumulative
    middle = bisect_left(cumulative, at / clip.pace)
    low = max(bisect_left(cumulative, (at - band) / clip.pace), middle - _BAND_TOKENS, 1)
    high = min(bisect_right(cumulative, (at + band) / clip.pace), middle + _BAND_TOKENS)
    return list(range(low, min(high, len(cumulative) - 1)))


def _best_previous(
    clip: _Clip, best: _Best, reached: dict[int, list[int]], k: int, b: int
) -> tuple[float, tuple[int, int]] | None:
    """The cheapest way to reach anchor (``k``, ``b``) from an earlier one, and its cost."""
    found: tuple[float, tuple[int, int]] | None = None
    cumulative = clip.weights.cumulative
    reward = _anchor_reward(clip.weights, b) if k < clip.last else 0.0
    skipped = 0.0
    for previous in range(k - 1, -2, -1):
        speaking = clip.ends[k + 1] - clip.ends[previous + 1]
        for b0 in reached.get(previous, ()):
            if b0 >= b:
                break  # reached lists are in order
            expected = clip.pace * (cumulative[b] - cumulative[b0])
            cost = best[(previous, b0)][0] + skipped - reward
            cost += (speaking - expected) ** 2 / (_SPREAD_PER_SECOND * expected + _SPREAD_FLOOR)
            if found is None or cost < found[0]:
                found = (cost, (previous, b0))
        if previous >= 0:  # reaching further back keeps the pause after ``previous`` in a word
            skipped += (clip.pauses[previous] / _SKIP_SCALE) ** 2
        if skipped > _MAX_SKIPPED or k - previous > _MAX_BACK:
            break
    return found


def _anchor_reward(weights: _Weights, b: int) -> float:
    """How much more likely a pause is before token ``b`` for the punctuation before it."""
    pause = weights.pauses[b - 1]
    if pause >= 1.0:
        return _BONUS_SENTENCE
    return _BONUS_CLAUSE if pause > 0 else 0.0


def _path(best: _Best, end: tuple[int, int]) -> list[tuple[int, int]]:
    """The anchors from the start to ``end``, following each one's best predecessor."""
    path = [end]
    node = best[end][1]
    while node is not None:
        path.append(node)
        node = best[node][1]
    path.reverse()
    return path
