"""Labels, time spans, sampling and result types: pure-Python parts."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, strategies as st

from emotion_encoder.labels import CANONICAL_LABELS, normalize_label
from emotion_encoder.results import VideoPrediction
from emotion_encoder.sampling import fixed_interval_indices, pick, sliding_windows
from emotion_encoder.timeline import EmotionTrack
from emotion_encoder.timing import Segment


@pytest.mark.parametrize("alias,label", [
    ("angry", "anger"), ("Happy", "happiness"), ("sad", "sadness"), ("surprised", "surprise"),
    ("disgusted", "disgust"), ("fearful", "fear"), ("neutral", "neutral"),
    ("contempt", "contempt"), ("others", "others"), ("ANG", "anger"), ("DIS", "disgust"),
    ("fea", "fear"), ("AF", "fear"), ("HA", "happiness"), ("SU", "surprise"),
    ("NEU", "neutral"), ("sa", "sadness")])
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


def _track() -> EmotionTrack:
    """Two clips: a happy face (box seen, 90% of frames), then none."""
    probs = np.zeros((2, 7), np.float32)
    probs[0] = 0.1 / 6
    probs[0, CANONICAL_LABELS.index("happiness")] = 0.9
    return EmotionTrack([0.0, 1.6], [1.6, 3.2], np.array([[1, 2, 3], [0, 0, 0]], np.float32),
                        has_face=[True, False], probs=probs,
                        attention=np.full((2, 4), 0.25, np.float32),
                        boxes=[[1, 2, 3, 4], [np.nan] * 4], box_scores=[0.9, 0.0],
                        clip_face_ratio=[0.9, 0.0], labels=CANONICAL_LABELS, video="v.mp4",
                        preset="default", weights_trained=True, sampling={"mode": "sliding"})


class _Info:
    path, duration, fps, n_frames, width, height = "v.mp4", 3.2, 25.0, 80, 320, 240


def test_video_prediction_json_has_the_documented_keys():
    result = VideoPrediction.of(_track(), _Info())
    data = json.loads(result.to_json())
    for key in ("video", "duration", "fps", "labels", "video_label", "video_probs", "clips",
                "sampling", "warnings"):
        assert key in data
    assert data["video_label"] == "happiness" and data["warnings"] == []
    assert data["sampling"] == {"mode": "sliding"}
    assert data["clips"][0]["face"] == {"x0": 1.0, "y0": 2.0, "x1": 3.0, "y1": 4.0,
                                        "score": 0.9, "padded": False}
    assert data["clips"][0]["face_ratio"] == 0.9 and data["clips"][0]["confidence"] == 0.9
    assert data["clips"][1]["face"] is None and data["clips"][1]["label"] is None
    assert set(data["clips"][0]) >= {"start", "end", "label", "confidence", "probs", "face"}
    assert result.faces_found


def test_prediction_without_faces_warns_and_has_no_label():
    track = _track().replace(has_face=[False, False])
    result = VideoPrediction.of(track, _Info())
    assert result.video_label is None and result.video_probs is None
    assert result.warnings == ["no face found in any clip"] and not result.faces_found


def test_video_label_weights_clips_by_their_face_ratio():
    probs = np.array([[0.8, 0.2], [0.3, 0.7], [0.0, 1.0]], np.float32)
    track = EmotionTrack([0, 1, 2], [1, 2, 3], np.ones((3, 2)), probs=probs, labels=("a", "b"),
                         has_face=[True, True, False], clip_face_ratio=[1.0, 0.25, 0.0])
    np.testing.assert_allclose(track.video_probs, [(0.8 + 0.25 * 0.3) / 1.25,
                                                   (0.2 + 0.25 * 0.7) / 1.25])
    assert track.video_label == "a"  # unweighted, b would win: (0.2 + 0.7 + 1.0) / 3


def test_label_runs_are_the_label_at_every_time():
    probs = np.array([[0.9, 0.1], [0.8, 0.2], [0.2, 0.8], [0, 0], [0.6, 0.4]], np.float32)
    track = EmotionTrack([0, 1, 2, 3, 4], [2, 3, 4, 5, 6], np.ones((5, 2)), probs=probs,
                         labels=("a", "b"), has_face=[True, True, True, False, True])
    runs = [(r.start, r.end, label) for r, label, _ in track.label_runs()]
    assert runs == [(0.0, 3.0, "a"), (3.0, 4.0, "b"), (4.0, 6.0, "a")]
    assert track.label_at([0.5, 2.5, 3.5, 5.9, 6.0]) == ["a", "a", "b", "a", None]
    # piece [2, 3) is covered by clips 1 and 2: mean (0.5, 0.5) -> argmax "a"
    assert track.run_at(2.5)[1] == "a"


def test_track_save_and_load_round_trip(tmp_path):
    track = _track()
    path = track.save(tmp_path / "out" / "e.npz")
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".")]
    back = EmotionTrack.load(path)
    for name in EmotionTrack.ROWS:
        np.testing.assert_array_equal(getattr(back, name), getattr(track, name))
    assert back.segments == [Segment(0.0, 1.6), Segment(0.8 * 2, 3.2)]
    assert back.labels == CANONICAL_LABELS and back.weights_trained is True
    assert back.sampling == {"mode": "sliding"} and back.video == "v.mp4"


def test_track_loads_a_version_0_1_embeddings_file(tmp_path):
    """Files written by 0.1's ``ClipEmbeddings.save`` (no boxes, no sampling) still load."""
    path = tmp_path / "old.npz"
    np.savez(path, embeddings=np.ones((2, 3), np.float32), starts=[0.0, 0.8], ends=[1.6, 2.4],
             has_face=[True, False], probs=np.zeros((2, 7), np.float32),
             attention=np.zeros((2, 4), np.float32), labels=np.asarray(CANONICAL_LABELS),
             video=np.asarray("v.mp4"), preset=np.asarray("default"),
             weights_trained=np.asarray(True))
    back = EmotionTrack.load(path)
    assert len(back) == 2 and back.has_face.tolist() == [True, False]
    assert np.isnan(back.boxes).all() and back.clip_face_ratio.tolist() == [1.0, 0.0]


def test_prefetch_keeps_order_and_stops_its_producer_when_the_reader_stops():
    import threading
    import time

    from emotion_encoder.prefetch import prefetched

    made = []

    def produce():
        for i in range(10_000):
            made.append(i)
            yield i

    reader = prefetched(produce(), size=3)
    assert [next(reader) for _ in range(5)] == [0, 1, 2, 3, 4]
    reader.close()
    time.sleep(0.3)
    assert len(made) <= 5 + 3 + 2  # bounded: the queue, one in hand, one being put
    assert not [t for t in threading.enumerate() if t.name == "emotion-encoder-prefetch"]
