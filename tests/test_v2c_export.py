"""v2c_bridge.export: every writer, and the JSON / npz / TextGrid round trips."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from emotion_encoder.timing import Segment
from v2c_bridge import (AlignedInterval, AlignmentError, EmotionTrack, Interval, align,
                        emotion_runs, read_json, read_npz, read_subtitles, read_textgrid,
                        write_csv, write_json, write_npz, write_srt, write_textgrid, write_vtt)

LABELS = ("happiness", "sadness", "neutral")


def embeddings() -> EmotionTrack:
    """Seven 2 s clips every 1 s; no face in clips 3 and 4 (a gap from 4 s to 5 s)."""
    rng = np.random.default_rng(3)
    n = 7
    starts = np.arange(n, dtype=np.float64)
    face = np.array([True, True, True, False, False, True, True])
    probs = np.array([[.9, .05, .05]] * 2 + [[.6, .3, .1]] + [[0, 0, 0]] * 2
                     + [[.1, .8, .1]] * 2, np.float32)
    emb = rng.normal(size=(n, 5)).astype(np.float32)
    att = np.full((n, 4), 0.25, np.float32)
    emb[~face], att[~face] = 0, 0
    return EmotionTrack(starts, starts + 2, emb, has_face=face, probs=probs, attention=att,
                        labels=LABELS, video="clip.mp4", preset="default")


@pytest.fixture
def track() -> EmotionTrack:
    return embeddings()


@pytest.fixture
def aligned(track) -> list[AlignedInterval]:
    words = [Interval(Segment(0.25, 0.8), 'say "hi", & <wave>', "words"),
             Interval(Segment(4.1, 4.6), "...", "words"),
             Interval(Segment(5.5, 6.25), "bye\nnow", "words")]
    return align(track, words=words, pool="attention")


def same_intervals(a: list[AlignedInterval], b: list[AlignedInterval]) -> None:
    assert len(a) == len(b)
    for x, y in zip(a, b):
        assert (x.segment, x.text, x.tier, x.label, x.confidence, x.face_ratio, x.probs) == \
               (y.segment, y.text, y.tier, y.label, y.confidence, y.face_ratio, y.probs)
        np.testing.assert_array_equal(x.vector, y.vector)
        assert x.vector.dtype == y.vector.dtype == np.float32


def test_json_round_trip_is_exact(tmp_path, aligned):
    path = write_json(tmp_path / "out" / "words.json", aligned)
    back = read_json(path)
    same_intervals(back, aligned)
    assert back[1].label is None and back[1].probs is None and not back[1].vector.any()


def test_json_reader_errors(tmp_path):
    path = tmp_path / "other.json"
    path.write_text('{"intervals": []}', encoding="utf-8")
    with pytest.raises(AlignmentError, match="other.json: not a v2c_bridge.aligned_intervals"):
        read_json(path)
    path.write_text('{"format": "v2c_bridge.aligned_intervals", "intervals": [{"start": 0}]}',
                    encoding="utf-8")
    with pytest.raises(AlignmentError, match="other.json: malformed interval"):
        read_json(path)


@settings(max_examples=30, deadline=None)
@given(rows=st.lists(st.tuples(st.floats(0, 1e4), st.floats(0, 100),
                               st.text(max_size=10), st.booleans(),
                               st.lists(st.floats(-1e3, 1e3, width=32), min_size=3, max_size=3)),
                     max_size=6))
def test_json_round_trip_property(tmp_path_factory, rows):
    items = []
    for start, length, text, face, vec in rows:
        probs = dict(zip(LABELS, (0.5, 0.25, 0.25))) if face else None
        items.append(AlignedInterval(Segment(start, start + length), text,
                                     np.asarray(vec if face else [0.0] * 3, np.float32), probs,
                                     "happiness" if face else None, 0.5 if face else None,
                                     1.0 if face else 0.0, "words"))
    path = write_json(tmp_path_factory.mktemp("json") / "x.json", items)
    same_intervals(read_json(path), items)


def test_csv(tmp_path, aligned):
    path = write_csv(tmp_path / "words.csv", aligned)
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["start", "end", "tier", "text", "label", "confidence",
                             "face_ratio", "prob_happiness", "prob_sadness", "prob_neutral"]
    assert [r["text"] for r in rows] == [iv.text for iv in aligned]
    assert float(rows[0]["start"]) == 0.25 and rows[0]["label"] == aligned[0].label
    assert float(rows[0]["prob_sadness"]) == aligned[0].probs["sadness"]
    assert rows[1]["label"] == rows[1]["confidence"] == rows[1]["prob_happiness"] == ""


def test_srt_one_cue_per_label_run(tmp_path, track):
    runs = emotion_runs(track)
    assert [(r.segment, r.label) for r in runs] == [(Segment(0, 4), "happiness"),
                                                    (Segment(5, 8), "sadness")]
    path = write_srt(tmp_path / "emotions.srt", track)
    cues = read_subtitles(path)
    assert [c.segment for c in cues] == [r.segment for r in runs]
    assert [c.text for c in cues] == [f"{r.label} {r.confidence:.2f}" for r in runs]
    assert path.read_text(encoding="utf-8").startswith("1\n00:00:00,000 --> 00:00:04,000\n")


def test_vtt_annotates_aligned_lines(tmp_path, aligned):
    path = write_vtt(tmp_path / "words.vtt", aligned)
    text = path.read_text(encoding="utf-8")
    assert text.startswith("WEBVTT\n\n") and "&amp; &lt;wave&gt;" in text
    cues = read_subtitles(path)
    labelled = [iv for iv in aligned if iv.label]
    assert [c.segment for c in cues] == [iv.segment for iv in labelled]
    assert [c.text.split("\n", 1)[1] for c in cues] == [iv.text for iv in labelled]
    assert cues[0].text.split("\n")[0] == f"{labelled[0].label} {labelled[0].confidence:.2f}"


def test_textgrid_round_trip(tmp_path, track):
    runs = emotion_runs(track)
    path = write_textgrid(tmp_path / "emotions.TextGrid", track)
    back = read_textgrid(path, tier="speaker")
    assert back == [Interval(r.segment, r.label, "speaker") for r in runs]
    with_gaps = read_textgrid(path, tier="speaker", keep_silence=True)
    assert [(iv.segment, iv.text) for iv in with_gaps] == [
        (Segment(0, 4), "happiness"), (Segment(4, 5), ""), (Segment(5, 8), "sadness")]


def test_textgrid_with_several_tiers(tmp_path, track):
    other = EmotionTrack(track.starts + 0.5, track.ends + 0.5, track.embeddings,
                         has_face=track.has_face, probs=track.probs[:, ::-1], labels=LABELS)
    path = write_textgrid(tmp_path / "two.TextGrid", {"hero": track, "villain": other},
                          xmax=10.0)
    back = read_textgrid(path, keep_silence=True)
    assert [t for t in dict.fromkeys(iv.tier for iv in back)] == ["hero", "villain"]
    for name in ("hero", "villain"):
        spans = [iv.segment for iv in back if iv.tier == name]
        assert spans[0].start == 0 and spans[-1].end == 10.0
        assert all(a.end == b.start for a, b in zip(spans, spans[1:]))
    assert [iv.text for iv in read_textgrid(path, "villain")] == ["neutral", "sadness"]


def test_textgrid_refuses_overlaps(tmp_path, aligned):
    overlapping = aligned[:1] + [AlignedInterval(Segment(0.5, 1.0), "x", aligned[0].vector,
                                                 aligned[0].probs, "sadness", 0.9, 1.0)]
    path = tmp_path / "bad.TextGrid"
    with pytest.raises(AlignmentError, match="bad.TextGrid: tier 'speaker': intervals overlap"):
        write_textgrid(path, overlapping)
    assert not path.exists()


def test_npz_round_trip(tmp_path):
    cond = align(embeddings(), n_mel_frames=800, sr=22050, hop_length=256, n_fft=1024,
                 interpolation="nearest")
    path = write_npz(tmp_path / "mel.npz", cond)
    back = read_npz(path)
    np.testing.assert_array_equal(back.values, cond.values)  # NaN where masked, equal too
    np.testing.assert_array_equal(back.mask, cond.mask)
    np.testing.assert_array_equal(back.times, cond.times)
    for key in ("sr", "hop_length", "n_fft", "center", "mode", "fps", "labels", "preset",
                "video", "version"):
        assert getattr(back, key) == getattr(cond, key), key
    assert back.fps is None and back.labels == LABELS and not back.mask.all()
    with_fps = write_npz(tmp_path / "fps.npz", cond.__class__(
        cond.values, cond.mask, cond.times, 16000, 160, 400, False, "linear", 29.97))
    assert read_npz(with_fps).fps == 29.97 and read_npz(with_fps).center is False


def test_npz_reader_errors(tmp_path):
    path = tmp_path / "other.npz"
    np.savez(path, values=np.zeros(3))
    with pytest.raises(AlignmentError, match="other.npz: not a v2c_bridge.mel_conditioning"):
        read_npz(path)
    with pytest.raises(AlignmentError, match="missing.npz: file not found"):
        read_npz(tmp_path / "missing.npz")


def test_writes_are_atomic(tmp_path, aligned):
    path = write_json(tmp_path / "words.json", aligned)
    before = path.read_bytes()
    broken = [AlignedInterval(Segment(0, 1), "x", np.zeros(2, np.float32), {"a": {1, 2}},
                              "a", 1.0, 1.0)]
    with pytest.raises(TypeError):
        write_json(path, broken)  # fails half-way through json.dump
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["words.json"]
    assert json.loads(before)["format"] == "v2c_bridge.aligned_intervals"
