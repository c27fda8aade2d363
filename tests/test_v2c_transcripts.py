"""v2c_bridge.transcripts: Praat TextGrids, whisper / whisperX JSON, SRT and WebVTT."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from emotion_encoder.timing import Segment
from v2c_bridge import AlignmentError, Interval, TranscriptWarning
from v2c_bridge.transcripts import read_subtitles, read_textgrid, read_words

LONG_TEXTGRID = '''File type = "ooTextFile"
Object class = "TextGrid"

xmin = 0
xmax = 1.5
tiers? <exists>
size = 2
item []:
    item [1]:
        class = "IntervalTier"
        name = "words"
        xmin = 0
        xmax = 1.5
        intervals: size = 4
        intervals [1]:
            xmin = 0
            xmax = 0.31
            text = ""
        intervals [2]:
            xmin = 0.31
            xmax = 0.74
            text = "say"
        intervals [3]:
            xmin = 0.74
            xmax = 1.2
            text = "1990 ""hi"""
        intervals [4]:
            xmin = 1.2
            xmax = 1.5
            text = ""
    item [2]:
        class = "IntervalTier"
        name = "phones"
        xmin = 0
        xmax = 1.5
        intervals: size = 3
        intervals [1]:
            xmin = 0
            xmax = 0.31
            text = "sil"
        intervals [2]:
            xmin = 0.31
            xmax = 0.5
            text = "S"
        intervals [3]:
            xmin = 0.5
            xmax = 1.5
            text = "EY1"
'''

SHORT_TEXTGRID = '''File type = "ooTextFile"
Object class = "TextGrid"

0
1.5
<exists>
3
"IntervalTier"
"words"
0
1.5
4
0
0.31
""
0.31
0.74
"say"
0.74
1.2
"1990 ""hi"""
1.2
1.5
""
"IntervalTier"
"phones"
0
1.5
3
0
0.31
"sil"
0.31
0.5
"S"
0.5
1.5
"EY1"
"TextTier"
"events"
0
1.5
1
0.9
"laugh"
'''

WORDS = [Interval(Segment(0.31, 0.74), "say", "words"),
         Interval(Segment(0.74, 1.2), '1990 "hi"', "words")]


def test_textgrid_long_format(tmp_path):
    path = tmp_path / "mfa.TextGrid"
    path.write_text(LONG_TEXTGRID, encoding="utf-8")
    assert read_textgrid(path, tier="words") == WORDS
    assert [iv.text for iv in read_textgrid(path, "phones")] == ["S", "EY1"]
    assert [iv.text for iv in read_textgrid(path, "phones", keep_silence=True)] == \
        ["sil", "S", "EY1"]
    assert [iv.tier for iv in read_textgrid(path)] == ["words"] * 2 + ["phones"] * 2
    assert len(read_textgrid(path, "words", keep_silence=True)) == 4


def test_textgrid_short_format_reads_like_the_long_one(tmp_path):
    path = tmp_path / "short.TextGrid"
    path.write_bytes(SHORT_TEXTGRID.replace("\n", "\r\n").encode("utf-16"))
    assert read_textgrid(path, tier="words") == WORDS
    assert read_textgrid(path, "events") == [Interval(Segment(0.9, 0.9), "laugh", "events")]


@pytest.mark.parametrize("text,message", [
    (LONG_TEXTGRID[:600], "TextGrid ends early"),
    (LONG_TEXTGRID.replace('"IntervalTier"', '"Tier"', 1), "unknown tier class 'Tier'"),
    (LONG_TEXTGRID.replace('"TextGrid"', '"Sound"'), "not a TextGrid"),
    ("hello", "expected File type"),
    (LONG_TEXTGRID.replace("xmax = 0.74", "xmax = 0.1", 1), "ends before it starts"),
])
def test_textgrid_errors_name_the_file(tmp_path, text, message):
    path = tmp_path / "bad.TextGrid"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(AlignmentError, match=f"bad.TextGrid: .*{message}"):
        read_textgrid(path)


def test_textgrid_tier_and_file_errors(tmp_path):
    path = tmp_path / "mfa.TextGrid"
    path.write_text(LONG_TEXTGRID, encoding="utf-8")
    with pytest.raises(AlignmentError, match=r"no tier 'syllables' \(tiers: words, phones\)"):
        read_textgrid(path, tier="syllables")
    with pytest.raises(AlignmentError, match="none.TextGrid: file not found"):
        read_textgrid(tmp_path / "none.TextGrid")
    binary = tmp_path / "bin.TextGrid"
    binary.write_bytes(b"ooBinaryFile\x08TextGrid")
    with pytest.raises(AlignmentError, match="binary TextGrid"):
        read_textgrid(binary)


WHISPER = {"text": " Hello world.", "language": "en", "segments": [
    {"id": 0, "start": 0.0, "end": 1.5, "text": " Hello world.", "words": [
        {"word": " Hello", "start": 0.0, "end": 0.5, "probability": 0.9},
        {"word": " world.", "start": 0.5, "end": 1.2, "probability": 0.8}]},
    {"id": 1, "start": 2.0, "end": 3.0, "text": " Again.", "words": [
        {"word": " Again.", "start": 2.0, "end": 2.6, "probability": 0.7}]}]}

WHISPERX = {"segments": [
    {"start": 0.1, "end": 2.0, "text": "In 1990 we left.", "words": [
        {"word": "In", "start": 0.1, "end": 0.3, "score": 0.9},
        {"word": "1990"},
        {"word": "we", "start": 1.0, "end": 1.2, "score": 0.8, "speaker": "SPEAKER_00"},
        {"word": "left.", "start": None, "end": None}]}],
    "word_segments": [{"word": "In", "start": 0.1, "end": 0.3}, {"word": "1990"},
                      {"word": "we", "start": 1.0, "end": 1.2}, {"word": "left."}]}


def test_whisper_words(tmp_path):
    path = tmp_path / "whisper.json"
    path.write_text(json.dumps(WHISPER), encoding="utf-8")
    words = read_words(path)
    assert [(w.text, w.segment.start, w.segment.end, w.tier) for w in words] == [
        ("Hello", 0.0, 0.5, "words"), ("world.", 0.5, 1.2, "words"),
        ("Again.", 2.0, 2.6, "words")]


def test_whisperx_words_without_times_are_skipped_with_a_note(tmp_path):
    path = tmp_path / "whisperx.json"
    path.write_text(json.dumps(WHISPERX), encoding="utf-8")
    with pytest.warns(TranscriptWarning, match=r"whisperx.json: skipped 2 word\(s\) .*'1990'"):
        words = read_words(path)
    assert [w.text for w in words] == ["In", "we"]
    only = tmp_path / "word_segments.json"
    only.write_text(json.dumps({"word_segments": WHISPERX["word_segments"]}), encoding="utf-8")
    with pytest.warns(TranscriptWarning):
        assert read_words(only) == words


@pytest.mark.parametrize("content,message", [
    ("{not json", "not valid JSON"),
    (json.dumps({"segments": [{"start": 0, "end": 1, "text": "hi"}]}), "no word timestamps"),
    (json.dumps([{"word": "a", "start": 2.0, "end": 1.0}]), "ends before it starts"),
    (json.dumps([{"word": "a", "start": "0", "end": 1.0}]), "must be finite numbers"),
    (json.dumps([{"text": "a"}]), "word 0: expected an object"),
])
def test_word_json_errors(tmp_path, content, message):
    path = tmp_path / "words.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(AlignmentError, match=f"words.json: .*{message}"):
        read_words(path)


MESSY_SRT = (
    "1\r\n00:00:01,000 --> 00:00:02,500\r\n<i>Hello</i> there\r\n{\\an8}General Kenobi!\r\n\r\n"
    "2\r\n00:00:02.000 --> 00:00:04,000 X1:10 X2:20 Y1:5 Y2:10\r\n"
    "<font color=\"#ff0000\">Overlap</font>\r\n\r\n"
    "3\r\n00:05,250 --> 00:06,000\r\nno hours\r\n"
    "4\r\n00:00:07,000 --> 00:00:08,000\r\nno blank line before\r\n\r\n\r\n"
    "5\r\n00:00:00,500 --> 00:00:00,900\r\nout of order\r\n\r\n"
    "6\r\n00:00:09,000 --> 00:00:09,500\r\n<b></b>\r\n")


def test_messy_srt(tmp_path):
    path = tmp_path / "messy.srt"
    path.write_bytes(MESSY_SRT.encode("utf-8-sig"))
    cues = read_subtitles(path)
    assert [(c.segment.start, c.segment.end, c.text) for c in cues] == [
        (0.5, 0.9, "out of order"),
        (1.0, 2.5, "Hello there\nGeneral Kenobi!"),
        (2.0, 4.0, "Overlap"),
        (5.25, 6.0, "no hours"),
        (7.0, 8.0, "no blank line before")]
    assert {c.tier for c in cues} == {"subtitles"}


VTT = """WEBVTT - A title
Kind: captions
Language: en

STYLE
::cue { color: yellow }

NOTE a comment
over two lines

intro
00:01.000 --> 00:02.500 align:start position:10%
<v Roger>Hi &amp; welcome</v>

00:00:02.000 --> 00:00:03.000
<c.yellow>Two</c> <00:00:02.500>lines
second line

NOTE another

3
01:00:00.000 --> 01:00:01.000
Hour mark &lt;3
"""


def test_webvtt(tmp_path):
    path = tmp_path / "clip.vtt"
    path.write_text(VTT, encoding="utf-8")
    cues = read_subtitles(path)
    assert [(c.segment.start, c.segment.end, c.text) for c in cues] == [
        (1.0, 2.5, "Hi & welcome"), (2.0, 3.0, "Two lines\nsecond line"),
        (3600.0, 3601.0, "Hour mark <3")]


@pytest.mark.parametrize("name,content,message", [
    ("a.vtt", "00:01.000 --> 00:02.000\nhi\n", "line 1: a WebVTT file must start with 'WEBVTT'"),
    ("b.srt", "1\n00:00:01,000 -> 00:00:02,000\nhi\n", "line 1: expected a cue timing line"),
    ("c.srt", "1\n00:00:01,000 --> 00:00:75,000\nhi\n", "line 2: bad cue timing"),
    ("d.srt", "\n\n1\n00:00:03,000 --> 00:00:02,000\nhi\n", "line 4: cue ends before it starts"),
])
def test_subtitle_errors_name_file_and_line(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    with pytest.raises(AlignmentError, match=f"{name}: {message}"):
        read_subtitles(path)


def test_non_utf8_subtitles_are_refused_clearly(tmp_path):
    path = tmp_path / "latin1.srt"
    path.write_bytes("1\n00:00:01,000 --> 00:00:02,000\ncafé\n".encode("latin-1"))
    with pytest.raises(AlignmentError, match="latin1.srt: not UTF-8 or UTF-16 text"):
        read_subtitles(path)


cue_text = st.text(alphabet=st.characters(codec="utf-8", exclude_characters="<>{}&\r\n\x0b"
                                          "\x0c\x1c\x1d\x1e\x85\u2028\u2029"),
                   min_size=1, max_size=20).map(str.strip).filter(
    lambda s: s and "-->" not in s and not s.isdigit())


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cues=st.lists(st.tuples(st.integers(0, 3_600_000), st.integers(0, 20_000),
                               st.lists(cue_text, min_size=1, max_size=3)),
                     min_size=1, max_size=8),
       comma=st.booleans(), hours=st.booleans(), crlf=st.booleans(), bom=st.booleans())
def test_srt_reading_property(tmp_path_factory, cues, comma, hours, crlf, bom):
    def stamp(ms: int) -> str:
        h, rest = divmod(ms, 3_600_000)
        m, rest = divmod(rest, 60_000)
        s, ms = divmod(rest, 1000)
        sep = "," if comma else "."
        return (f"{h:02d}:" if hours or h else "") + f"{m:02d}:{s:02d}{sep}{ms:03d}"

    blocks = [f"{n}\n{stamp(a)} --> {stamp(a + d)}\n" + "\n".join(lines)
              for n, (a, d, lines) in enumerate(cues, 1)]
    text = "\n\n".join(blocks) + "\n"
    if crlf:
        text = text.replace("\n", "\r\n")
    path = tmp_path_factory.mktemp("srt") / "cues.srt"
    path.write_bytes(text.encode("utf-8-sig" if bom else "utf-8"))
    got = read_subtitles(path)
    expected = sorted(((a / 1000, (a + d) / 1000, "\n".join(lines)) for a, d, lines in cues),
                      key=lambda c: c[0])
    assert [(c.segment.start, c.segment.end, c.text) for c in got] == \
        [(pytest.approx(a), pytest.approx(b), t) for a, b, t in expected]
