"""Readers for timed text: Praat TextGrids (as written by the Montreal Forced Aligner),
whisper / whisperX word-timestamp JSON, and SRT / WebVTT subtitles.

Each reader returns a list of :class:`Interval` sorted by start (a TextGrid: by tier, then
time). A bad file raises :class:`~v2c_bridge.errors.AlignmentError` naming it and the line.

>>> words = read_words("clip.json")                           # doctest: +SKIP
>>> words[0]                                                  # doctest: +SKIP
Interval(segment=Segment(start=0.52, end=0.81), text='Hello', tier='words')
>>> [i.text for i in read_textgrid("clip.TextGrid", tier="phones")][:3]   # doctest: +SKIP
['HH', 'AH0', 'L']
"""

from __future__ import annotations

import codecs
import math
import html
import json
import os
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from emotion_encoder.timing import Segment
from v2c_bridge.errors import AlignmentError, TranscriptWarning

SILENCE_MARKS = frozenset({"", "sil", "sp"})
"""TextGrid texts that mean silence (MFA 2 writes empty intervals, MFA 1 "sil" and "sp")."""


@dataclass(frozen=True)
class Interval:
    """A span of text on a tier ("words", "phones", "subtitles", ...)."""

    segment: Segment
    text: str
    tier: str = ""


def read_text(path: str | os.PathLike) -> str:
    """A text file's content, UTF-8 (with or without BOM) or UTF-16 with BOM."""
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise AlignmentError(path, "file not found") from None
    except OSError as e:
        raise AlignmentError(path, f"cannot read the file ({e.strerror})") from None
    encoding = "utf-16" if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) \
        else "utf-8-sig"
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as e:
        raise AlignmentError(path, f"not UTF-8 or UTF-16 text (bad byte at offset {e.start}); "
                                   "re-save it as UTF-8") from None


# ---------------------------------------------------------------- Praat TextGrid

_TG_TOKEN = re.compile(r'"(?:[^"]|"")*"|[^\s"]+')
_TG_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")


class _TextGridTokens:
    """The strings, numbers and ``<flags>`` of a Praat text file, in order.

    Praat reads its text formats as a free stream of these values, so the long format's
    labels (``xmin =``, ``intervals [1]:``) are skipped and both formats read alike.
    """

    def __init__(self, path: str | os.PathLike, text: str):
        self.path, self.items, self.pos = path, [], 0
        line, last = 1, 0
        for m in _TG_TOKEN.finditer(text):
            line += text.count("\n", last, m.start())
            last = m.start()
            tok = m.group()
            if tok.startswith('"'):
                self.items.append(("text", tok[1:-1].replace('""', '"'), line))
            elif tok.startswith("<") and tok.endswith(">"):
                self.items.append(("flag", tok, line))
            elif _TG_NUMBER.fullmatch(tok):
                self.items.append(("number", float(tok), line))

    def take(self, kind: str, what: str) -> Any:
        if self.pos >= len(self.items):
            raise AlignmentError(self.path, f"TextGrid ends early: expected {what}")
        got, value, line = self.items[self.pos]
        if got != kind:
            raise AlignmentError(self.path, f"line {line}: expected {what}, found {value!r}")
        if kind == "number" and not math.isfinite(value):
            raise AlignmentError(self.path, f"line {line}: {what} is not a finite number")
        self.pos += 1
        return value

    def line(self) -> int:
        return self.items[min(self.pos, len(self.items) - 1)][2] if self.items else 1


def _is_binary_praat(path: str | os.PathLike) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(12) == b"ooBinaryFile"
    except OSError:
        return False  # read_text says why


def read_textgrid(path: str | os.PathLike, tier: str | None = None, *,
                  keep_silence: bool = False) -> list[Interval]:
    """Intervals of a Praat TextGrid (long or short text format), one tier or all.

    Point tiers give zero-length intervals. Silences (:data:`SILENCE_MARKS`) are dropped
    unless ``keep_silence``. ``tier`` must name a tier of the file when given.
    """
    if _is_binary_praat(path):
        raise AlignmentError(path, "binary TextGrid; save it from Praat as a text file")
    tokens = _TextGridTokens(path, read_text(path))
    kind = tokens.take("text", 'File type = "ooTextFile"')
    if not kind.startswith("ooTextFile"):
        raise AlignmentError(path, f'not a Praat text file (file type {kind!r})')
    if (cls := tokens.take("text", 'Object class = "TextGrid"')) != "TextGrid":
        raise AlignmentError(path, f"not a TextGrid (object class {cls!r})")
    tokens.take("number", "xmin")
    tokens.take("number", "xmax")
    n_tiers = int(tokens.take("number", "the number of tiers")) \
        if tokens.take("flag", "tiers? <exists>") == "<exists>" else 0
    found: dict[str, list[Interval]] = {}
    for _ in range(n_tiers):
        tier_class = tokens.take("text", 'a tier class ("IntervalTier" or "TextTier")')
        if tier_class not in ("IntervalTier", "TextTier"):
            raise AlignmentError(path, f"line {tokens.line()}: unknown tier class {tier_class!r}")
        name = tokens.take("text", "a tier name")
        tokens.take("number", f"xmin of tier {name!r}")
        tokens.take("number", f"xmax of tier {name!r}")
        size = int(tokens.take("number", f"the size of tier {name!r}"))
        items = found.setdefault(name, [])
        for k in range(1, size + 1):
            where = f"tier {name!r} item {k}"
            start = tokens.take("number", f"the time of {where}")
            end = start if tier_class == "TextTier" else tokens.take("number", f"xmax of {where}")
            text = tokens.take("text", f"the text of {where}")
            if end < start:
                raise AlignmentError(path, f"line {tokens.line()}: {where} ends before it "
                                           f"starts ({end} < {start})")
            if keep_silence or text.strip().lower() not in SILENCE_MARKS:
                items.append(Interval(Segment(start, end), text.strip(), name))
    if tier is not None:
        if tier not in found:
            raise AlignmentError(path, f"no tier {tier!r} (tiers: {', '.join(found) or 'none'})")
        found = {tier: found[tier]}
    return [iv for items in found.values() for iv in sorted(items, key=_start)]


def _start(interval: Interval) -> float:
    return interval.segment.start


# ---------------------------------------------------------------- whisper / whisperX JSON

def read_words(path: str | os.PathLike) -> list[Interval]:
    """Words of a whisper (``segments[].words[]``) or whisperX (also ``word_segments[]``) JSON.

    Words without ``start``/``end`` (whisperX cannot align some, e.g. numerals) are skipped
    with a :class:`~v2c_bridge.errors.TranscriptWarning` naming them.
    """
    try:
        data = json.loads(read_text(path))
    except json.JSONDecodeError as e:
        raise AlignmentError(path, f"not valid JSON ({e.msg} at line {e.lineno})") from None
    segments = data.get("segments") if isinstance(data, dict) else None
    if isinstance(data, list):
        words = data
    elif isinstance(segments, list) and any(isinstance(s, dict) and "words" in s
                                            for s in segments):
        words = [w for s in segments if isinstance(s, dict) for w in s.get("words") or []]
    elif isinstance(data, dict) and isinstance(data.get("word_segments"), list):
        words = data["word_segments"]
    else:
        raise AlignmentError(path, "no word timestamps: expected segments[].words[] or "
                                   "word_segments[] (run whisper with word_timestamps=True)")
    intervals, skipped = [], []
    for k, word in enumerate(words):
        if not isinstance(word, dict) or not isinstance(word.get("word"), str):
            raise AlignmentError(path, f"word {k}: expected an object with 'word', 'start' "
                                       f"and 'end', found {str(word)[:60]!r}")
        start, end = word.get("start"), word.get("end")
        if start is None or end is None:
            skipped.append(word["word"].strip())
            continue
        if not all(isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)
                   for x in (start, end)):
            raise AlignmentError(path, f"word {k} ({word['word'].strip()!r}): start and end "
                                       "must be finite numbers")
        if end < start:
            raise AlignmentError(path, f"word {k} ({word['word'].strip()!r}) ends before it "
                                       f"starts ({end} < {start})")
        intervals.append(Interval(Segment(start, end), word["word"].strip(), "words"))
    if skipped:
        shown = ", ".join(map(repr, skipped[:5])) + (", ..." if len(skipped) > 5 else "")
        warnings.warn(f"{os.fspath(path)}: skipped {len(skipped)} word(s) without start/end "
                      f"times: {shown}", TranscriptWarning, stacklevel=2)
    return sorted(intervals, key=_start)


# ---------------------------------------------------------------- SRT / WebVTT

_TIME = r"(?:(\d+):)?(\d+):(\d+)[,.](\d{1,3})"
_TIMING = re.compile(rf"\s*{_TIME}\s*-->\s*{_TIME}(?:\s.*)?")
_MARKUP = re.compile(r"</?[A-Za-z][^<>]*>|<\d[\d:.]*>|\{\\[^{}]*\}")
_VTT_BLOCKS = ("NOTE", "STYLE", "REGION")


def _seconds(h: str | None, m: str, s: str, frac: str) -> float | None:
    """Seconds of a parsed timestamp, None when minutes or seconds are out of range."""
    if int(s) >= 60 or (h is not None and int(m) >= 60):
        return None
    return int(h or 0) * 3600 + int(m) * 60 + int(s) + int(frac) / 10 ** len(frac)


def _clean(lines: list[str]) -> str:
    """Cue text without HTML/WebVTT tags, ASS ``{\\...}`` overrides and entities."""
    kept = (html.unescape(_MARKUP.sub("", line)).strip() for line in lines)
    return "\n".join(line for line in kept if line)


def _blocks(lines: list[str]) -> list[tuple[int, list[str]]]:
    """Runs of non-blank lines, with the 1-based number of each run's first line."""
    blocks: list[tuple[int, list[str]]] = []
    for no, line in enumerate(lines, 1):
        if not line.strip():
            continue
        if blocks and blocks[-1][0] + len(blocks[-1][1]) == no:
            blocks[-1][1].append(line)
        else:
            blocks.append((no, [line]))
    return blocks


def read_subtitles(path: str | os.PathLike) -> list[Interval]:
    """Cues of an SRT or WebVTT file (WebVTT when it starts with ``WEBVTT``), tier "subtitles".

    Handles BOMs, CRLF, cue identifiers, multi-line cues (lines joined with ``\\n``),
    overlapping cues (kept, sorted by start), timestamps with or without hours and with
    ``,`` or ``.`` before the milliseconds, WebVTT NOTE/STYLE/REGION blocks and cue
    settings. Cues left empty once markup is removed are dropped.
    """
    lines = read_text(path).splitlines()
    vtt = bool(lines) and lines[0].startswith("WEBVTT")
    if not vtt and Path(path).suffix.lower() == ".vtt":
        raise AlignmentError(path, "line 1: a WebVTT file must start with 'WEBVTT'")
    blocks = _blocks(lines)
    if vtt:  # the header block: "WEBVTT" and optional metadata lines
        blocks = blocks[1:]
    cues = []
    for first, block in blocks:
        if vtt and block[0].split()[0] in _VTT_BLOCKS:
            continue
        timings = [k for k, line in enumerate(block) if "-->" in line]
        if not timings:
            raise AlignmentError(path, f"line {first}: expected a cue timing line like "
                                       f"'00:00:01,000 --> 00:00:02,500', found {block[0]!r}")
        for n, k in enumerate(timings):
            m = _TIMING.fullmatch(block[k])
            start = m and _seconds(*m.groups()[:4])
            end = m and _seconds(*m.groups()[4:])
            if start is None or end is None:
                raise AlignmentError(path, f"line {first + k}: bad cue timing {block[k]!r}")
            if end < start:
                raise AlignmentError(path, f"line {first + k}: cue ends before it starts")
            text = block[k + 1:timings[n + 1] if n + 1 < len(timings) else len(block)]
            if n + 1 < len(timings) and text and text[-1].strip().isdigit():
                text = text[:-1]  # the next cue's number, with no blank line before it
            if cleaned := _clean(text):
                cues.append(Interval(Segment(start, end), cleaned, "subtitles"))
    return sorted(cues, key=_start)
