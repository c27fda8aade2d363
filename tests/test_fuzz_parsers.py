"""Fuzzing the parsers of user files (issue 18): SRT, WebVTT, Praat TextGrid, whisper word
JSON and dataset manifests get random and mutated documents; each either parses into
well-formed intervals / samples or raises one of the project's own errors (which the CLI
turns into one line). Any other exception fails the test, with the input that caused it.

The quick run (default suite) tries a few hundred inputs per parser; the slow run
(``python -m pytest -m reliability``, run by CI) tries ``EMOTION_ENCODER_FUZZ_EXAMPLES``
(default 10000) per parser, about two minutes in all on 2 cores.
"""

from __future__ import annotations

import math
import os
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from PIL import Image

from emotion_encoder.errors import EmotionEncoderError

SRT = ("1\n00:00:01,000 --> 00:00:02,500\nHello <i>there</i>\n\n"
       "2\n00:00:02,600 --> 00:00:04,000\nSecond line\nwrapped\n\n")
VTT = ("WEBVTT\n\nNOTE a note\n\n00:01.000 --> 00:02.500 align:start\n- Hi\n\n"
       "intro\n00:00:02.600 --> 00:00:04.000\nBye\n")
TEXTGRID = '''File type = "ooTextFile"
Object class = "TextGrid"

xmin = 0
xmax = 2.5
tiers? <exists>
size = 1
item []:
    item [1]:
        class = "IntervalTier"
        name = "words"
        xmin = 0
        xmax = 2.5
        intervals: size = 2
        intervals [1]:
            xmin = 0
            xmax = 1.2
            text = "hello"
        intervals [2]:
            xmin = 1.2
            xmax = 2.5
            text = ""
'''
WORDS = ('{"segments": [{"start": 0.0, "end": 2.0, "text": "hi there", "words": '
         '[{"word": " hi", "start": 0.1, "end": 0.5, "score": 0.9}, '
         '{"word": " there", "start": 0.6, "end": 1.9}]}]}')
MANIFEST = "path,label,subject,start,end\nface.jpg,happy,ann,,\nframes,sad,bob,,\n"

DOCUMENTS = {".srt": SRT, ".vtt": VTT, ".TextGrid": TEXTGRID, ".json": WORDS, ".csv": MANIFEST}
QUICK = 150
SLOW = int(os.environ.get("EMOTION_ENCODER_FUZZ_EXAMPLES", "10000"))


@st.composite
def mutated(draw, text: str) -> bytes:
    """A valid document with a few random edits (cut, insert, duplicate, swap a span),
    in a random encoding, or random text or bytes."""
    kind = draw(st.sampled_from(["mutate", "mutate", "mutate", "text", "bytes"]))
    if kind == "text":
        return draw(st.text(max_size=400)).encode("utf-8")
    if kind == "bytes":
        return draw(st.binary(max_size=400))
    for _ in range(draw(st.integers(1, 4))):
        if not text:
            break
        i = draw(st.integers(0, len(text) - 1))
        j = draw(st.integers(i, min(len(text), i + 40)))
        edit = draw(st.sampled_from(["cut", "insert", "duplicate", "swap", "digit"]))
        if edit == "cut":
            text = text[:i] + text[j:]
        elif edit == "insert":
            text = text[:i] + draw(st.text(max_size=12)) + text[i:]
        elif edit == "duplicate":
            text = text[:j] + text[i:j] + text[j:]
        elif edit == "swap" and j < len(text):
            text = text[:i] + text[j] + text[i + 1:j] + text[i] + text[j + 1:]
        else:
            text = text[:i] + draw(st.sampled_from(["-1", "1e309", "nan", "99", ":", "-->",
                                                    '"', "\n\n", "0.5"])) + text[j:]
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "utf-16"]))
    return text.encode(encoding, errors="replace")


def check_intervals(intervals) -> None:
    for interval in intervals:
        start, end = interval.segment.start, interval.segment.end
        assert math.isfinite(start) and math.isfinite(end) and start <= end, interval
        assert isinstance(interval.text, str)


def parse(suffix: str, path: Path) -> None:
    """Parse ``path`` with the parser of ``suffix`` and check what it returns."""
    from emotion_encoder.data.manifest import load_manifest
    from v2c_bridge.transcripts import read_subtitles, read_textgrid, read_words

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if suffix in (".srt", ".vtt"):
            check_intervals(read_subtitles(path))
        elif suffix == ".TextGrid":
            check_intervals(read_textgrid(path))
        elif suffix == ".json":
            check_intervals(read_words(path))
        else:
            dataset = load_manifest(path, unknown="drop")
            for sample in dataset:
                assert sample.label in dataset.labels


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    """A folder with the media a manifest may name: one face JPEG and a frames folder."""
    root = tmp_path_factory.mktemp("fuzz")
    image = Image.fromarray(np.full((32, 32, 3), 120, np.uint8))
    image.save(root / "face.jpg")
    (root / "frames").mkdir()
    image.save(root / "frames" / "0001.jpg")
    return root


def fuzz(suffix: str, workdir: Path, examples: int) -> None:
    path = workdir / f"input{suffix}"

    @settings(max_examples=examples, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(data=mutated(DOCUMENTS[suffix]))
    def run(data: bytes) -> None:
        path.write_bytes(data)
        try:
            parse(suffix, path)
        except EmotionEncoderError as error:  # the project's own: one line, names the file
            assert str(path) in str(error) and "\n" not in str(error).strip(), str(error)

    run()


def test_valid_documents_parse(workdir):
    """The seeds of the fuzzer are valid: each parses without error."""
    for suffix, text in DOCUMENTS.items():
        path = workdir / f"seed{suffix}"
        path.write_text(text, encoding="utf-8")
        parse(suffix, path)


@pytest.mark.parametrize("suffix", list(DOCUMENTS))
def test_parsers_fuzz_quick(suffix, workdir):
    fuzz(suffix, workdir, QUICK)


@pytest.mark.slow
@pytest.mark.reliability
@pytest.mark.parametrize("suffix", list(DOCUMENTS))
def test_parsers_fuzz_long(suffix, workdir):
    fuzz(suffix, workdir, SLOW)


def test_what_the_fuzzer_found(workdir):
    """Regressions found by the fuzzer: a UTF-16 manifest reads; an infinite time in a
    TextGrid or a word JSON (``1e999``) is one clear error, not an interval to infinity."""
    from emotion_encoder.data.manifest import load_manifest
    from emotion_encoder.errors import AlignmentError
    from v2c_bridge.transcripts import read_textgrid, read_words

    path = workdir / "utf16.csv"
    path.write_bytes(MANIFEST.encode("utf-16"))
    assert [s.label for s in load_manifest(path)] == ["happiness", "sadness"]
    path = workdir / "inf.TextGrid"
    path.write_text(TEXTGRID.replace("xmax = 1.2", "xmax = 1e999"))
    with pytest.raises(AlignmentError, match="line 17: .* is not a finite number"):
        read_textgrid(path)
    path = workdir / "inf.json"
    path.write_text(WORDS.replace('"end": 0.5', '"end": 1e999'))
    with pytest.raises(AlignmentError, match="must be finite numbers"):
        read_words(path)
