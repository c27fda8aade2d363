"""Labels, time spans, sampling and result types: pure-Python parts."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, strategies as st

from emotion_encoder.labels import CANONICAL_LABELS, normalize_label
from emotion_encoder.results import ClipEmbeddings, ClipPrediction, FaceBox, VideoPrediction
from emotion_encoder.sampling import fixed_interval_indices, pick, sliding_windows
from emotion_encoder.timing import Segment


@pytest.mark.parametrize("alias,label", [
    ("angry", "anger"), ("Happy", "happiness"), ("sad", "sadness"), ("surprised", "surprise"),
    ("disgusted", "disgust"), ("fearful", "fear"), ("neutral", "neutral"),
    ("contempt", "contempt"), ("others", "others")])
def test_aliases_map_onto_canonical_labels(alias, label):
    assert normalize_label(alias) == label


def test_canonical_labels_are_the_seven():
    assert CANONICAL_LABELS == ("anger", "disgust", "fear", "happiness", "sadness",
                                "surprise", "neutral")


def test_segment_arithmetic():
    s = Segment(1, 3)
    assert (s.duration, s.middle) == (2.0, 2.0)
    assert (s & Segment(2, 5)) == Segment(2, 3)
    assert not (s & Segment(4, 5))
    assert 1.0 in s and 3.0 not in s
    with pytest.raises(ValueError):
        Segment(2, 1)


def test_fixed_interval_spans_the_whole_sequence():
    idx = fixed_interval_indices(100, 16)
    assert idx[0] == 0 and idx[-1] == 99 and len(idx) == 16
    assert np.all(np.diff(idx) > 0)
    assert fixed_interval_indices(1, 16).tolist() == [0] * 16
    with pytest.raises(ValueError):
        fixed_interval_indices(0, 16)


@given(n=st.integers(0, 200), window=st.integers(1, 20), stride=st.integers(1, 20))
def test_sliding_windows_cover_every_item(n, window, stride):
    stride = min(stride, window)  # a larger stride skips frames on purpose
    windows = list(sliding_windows(range(n), window, stride))
    if n == 0:
        assert windows == []
        return
    assert all(len(w) == window for w in windows)
    covered = set().union(*map(set, windows))
    assert covered == set(range(n))
    assert windows[-1][-1] == n - 1
    starts = [w[0] for w in windows]
    assert starts == sorted(starts)
    if n >= window:
        assert all(list(w) == list(range(w[0], w[0] + window)) for w in windows)


def test_pick_is_fixed_interval():
    assert pick(list("abcdefghij"), 4) == ["a", "d", "g", "j"]


def _clip(label="happiness"):
    probs = {k: (0.9 if k == label else 0.1 / 6) for k in CANONICAL_LABELS}
    return ClipPrediction(0.0, 1.6, label, 0.9, probs, FaceBox(1, 2, 3, 4, 0.9), 1.0)


def test_video_prediction_json_has_the_documented_keys():
    empty = ClipPrediction(1.6, 3.2, None, None, None, None, 0.0)
    result = VideoPrediction("v.mp4", 3.2, 25.0, 80, 320, 240, CANONICAL_LABELS, "happiness",
                             _clip().probs, [_clip(), empty], "default", True,
                             {"mode": "sliding"})
    data = json.loads(result.to_json())
    for key in ("video", "duration", "fps", "labels", "video_label", "video_probs", "clips"):
        assert key in data
    assert data["clips"][0]["face"] == {"x0": 1.0, "y0": 2.0, "x1": 3.0, "y1": 4.0,
                                        "score": 0.9, "padded": False}
    assert data["clips"][1]["face"] is None and data["clips"][1]["label"] is None
    assert set(data["clips"][0]) >= {"start", "end", "label", "confidence", "probs", "face"}
    assert result.faces_found


def test_embeddings_save_and_load_round_trip(tmp_path):
    emb = ClipEmbeddings("v.mp4", np.arange(6, dtype=np.float32).reshape(2, 3),
                         np.array([0.0, 0.8]), np.array([1.6, 2.4]), np.array([True, False]),
                         np.zeros((2, 7), np.float32), np.full((2, 4), 0.25, np.float32),
                         CANONICAL_LABELS, "default", False)
    path = emb.save(tmp_path / "out" / "e.npz")
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".")]
    back = ClipEmbeddings.load(path)
    np.testing.assert_array_equal(back.embeddings, emb.embeddings)
    assert back.segments == [Segment(0.0, 1.6), Segment(0.8, 2.4)]
    assert back.labels == CANONICAL_LABELS and back.weights_trained is False
    assert back.has_face.tolist() == [True, False]
