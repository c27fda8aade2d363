"""EmotionEncoder.track: shot cuts, HMM smoothing, several faces, the speaker, no-face gaps."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from emotion_encoder import EmotionEncoder
from emotion_encoder.faces.multi_tracking import match_boxes
from emotion_encoder.shots import detect_cuts
from emotion_encoder.timing import Segment
from emotion_encoder.tracks import mouth_motion
from v2c_bridge import (EmotionTrack, FaceTracks, Interval, SlidingWindow, align, smooth_track,
                        track_viterbi, viterbi_path)

from synthetic import background, draw_face, face_frames, write_face_video, write_video

SHARED_VIDEOS = Path(__file__).resolve().parents[2] / "shared" / "data" / "videos"
FPS = 25


def _iou(a, b) -> float:
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


@pytest.fixture(scope="module")
def encoder() -> EmotionEncoder:
    return EmotionEncoder.from_preset("default")


# ---------------------------------------------------------------- shot cuts

def test_hard_cut_is_found_at_the_switch_and_a_sweep_is_not_a_cut():
    first, _ = face_frames(seconds=1.5, fps=10)
    second = []
    for i in range(15):  # another place: warm background, the face elsewhere
        img = np.full((240, 320, 3), (200, 120, 60), np.uint8)
        draw_face(img, (90 + i, 120), 110)
        second.append(img)
    frames = [(i / 10, f) for i, f in enumerate(first + second)]
    cuts = detect_cuts(frames)
    assert len(cuts) == 1 and cuts[0] == pytest.approx(1.5, abs=0.1 + 1e-9)
    assert detect_cuts((i / 10, f) for i, f in enumerate(face_frames(3.0, fps=10)[0])) == []
    assert detect_cuts([(0.0, background((64, 48), 0.0)), (0.1, background((64, 48), 1.0))]) == []


# ---------------------------------------------------------------- smoothing

def _probs(labels: list[int], k: int = 7, p: float = 0.6) -> np.ndarray:
    out = np.full((len(labels), k), (1 - p) / (k - 1))
    out[np.arange(len(labels)), labels] = p
    return out


def test_viterbi_removes_an_isolated_flip_and_keeps_a_sustained_change():
    labels = [0, 0, 0, 2, 0, 0, 0, 0, 4, 4, 4, 4, 4, 4]
    assert viterbi_path(_probs(labels)).tolist() == [0] * 8 + [4] * 6
    names = ("a", "b", "c", "d", "e", "f", "g")
    track = EmotionTrack.from_window(np.ones((14, 3), np.float32), SlidingWindow(0, 1.6, 0.8),
                                     probs=_probs(labels), labels=names)
    smoothed = smooth_track(track)
    assert smoothed.clip_labels == ["a"] * 8 + ["e"] * 6
    assert track_viterbi(track) == ["a"] * 8 + ["e"] * 6
    assert np.allclose(smoothed.probs.sum(axis=1), 1.0, atol=1e-5)
    assert smoothed.probs[3, 0] > 0.5 and smoothed.probs[3, 2] < 0.4  # calibrated, not hard
    np.testing.assert_array_equal(smoothed.embeddings, track.embeddings)


def test_smoothing_restarts_at_breaks_and_keeps_gaps():
    labels = [0, 0, 0, 2, 0, 0]
    has_face = [True, True, True, True, False, True]
    track = EmotionTrack.from_window(np.ones((6, 2), np.float32), SlidingWindow(0, 1.6, 0.8),
                                     probs=_probs(labels, k=3, p=0.9), labels=("a", "b", "c"),
                                     has_face=has_face)
    # a cut between clip 2 and 3 (middles 2.4 and 3.2): clip 3 stands alone and keeps "c"
    assert smooth_track(track, breaks=[3.0]).clip_labels == ["a", "a", "a", "c", None, "a"]
    smoothed = smooth_track(track)
    assert smoothed.clip_labels[4] is None and smoothed.gaps == track.gaps
    np.testing.assert_array_equal(smoothed.probs[4], track.probs[4])


# ---------------------------------------------------------------- tracking pieces

def test_match_boxes_pairs_by_overlap_and_centre():
    tracks = [(0, 0, 10, 10), (100, 0, 110, 10)]
    assert sorted(match_boxes(tracks, [(103, 1, 113, 11), (1, 0, 11, 10)])) == [(0, 1), (1, 0)]
    assert match_boxes(tracks, [(50, 50, 60, 60)]) == []


def test_mouth_motion_ignores_head_motion():
    rng = np.random.default_rng(0)
    face = rng.integers(0, 255, (48, 48, 3), np.uint8)
    flicker = [face, np.clip(face.astype(int) + 30, 0, 255).astype(np.uint8)]  # whole crop
    assert mouth_motion(flicker) == pytest.approx(0.0, abs=1.0)
    assert mouth_motion([face, None, face]) is None


# ---------------------------------------------------------------- end to end

@pytest.fixture(scope="module")
def two_faces(tmp_path_factory):
    path = tmp_path_factory.mktemp("track") / "two.mp4"
    return path, write_face_video(path, seconds=3.0, fps=FPS, faces=2)


def test_two_faces_give_two_tracks_that_follow_them(encoder, two_faces):
    path, boxes = two_faces
    tracks = encoder.track(path, faces="all")
    assert isinstance(tracks, FaceTracks) and tracks.cuts == []
    assert [f.id for f in tracks.faces] == [0, 1]
    for face, k in zip(tracks.faces, (0, 1)):  # ids in order of appearance: left face first
        assert face.track.has_face.all() and len(face.track) == len(tracks.speaker)
        for box, start, end in zip(face.boxes, face.track.starts, face.track.ends):
            truth = boxes[min(int(0.5 * (start + end) * FPS), len(boxes) - 1)][k]
            assert _iou(box, truth) > 0.5
    # no mouth moves: the speaker is the larger face, on the left
    assert tracks.speaker_ids.tolist() == [0] * len(tracks.speaker)
    np.testing.assert_allclose(tracks.speaker_boxes, tracks.faces[0].boxes)
    np.testing.assert_allclose(tracks.speaker.embeddings, tracks.faces[0].track.embeddings)
    assert tracks.speaker.labels == encoder.labels and tracks.smoothed
    # every face's tracks detect on every k-th frame and every cut, whatever `keyframes` says
    assert tracks.speaker.sampling["keyframes"] == "fixed"
    assert encoder.track(path, keyframes="adaptive").speaker.sampling["keyframes"] == "fixed"
    cond = align(tracks, n_mel_frames=100)
    assert cond.values.shape == (100, encoder.classifier.embedding_dim) and cond.mask.all()


def test_the_speaker_is_the_face_whose_mouth_moves(encoder, tmp_path):
    frames, boxes = face_frames(seconds=3.0, fps=FPS, faces=2)
    for i, (frame, (_, small)) in enumerate(zip(frames, boxes)):
        if int(i / FPS * 5) % 2 == 0:  # the small right face opens its mouth 2.5 times a second
            x0, y0, x1, y1 = small
            cv2.ellipse(frame, (int(0.5 * (x0 + x1)), int(y0 + 0.77 * (y1 - y0))),
                        (int(0.2 * (x1 - x0)), int(0.1 * (y1 - y0))), 0, 0, 360, (90, 20, 30), -1)
    path = write_video(tmp_path / "talk.mp4", frames, FPS)
    tracks = encoder.track(path)  # faces="speaker"
    assert tracks.faces == [] and (tracks.speaker_ids == 1).all()
    centres = 0.5 * (tracks.speaker_boxes[:, 0] + tracks.speaker_boxes[:, 2])
    assert np.all(np.abs(centres - 0.5 * (boxes[0][1][0] + boxes[0][1][2])) < 10)


def test_no_face_span_is_a_flagged_gap(encoder, tmp_path):
    path = tmp_path / "gap.mp4"
    write_face_video(path, seconds=6.0, fps=FPS, no_face_spans=[(2.0, 4.5)])
    tracks = encoder.track(path, faces="all", smooth=False)
    speaker = tracks.speaker
    gap_rows = ~speaker.has_face
    assert gap_rows.any() and (tracks.speaker_ids[gap_rows] == -1).all()
    assert np.isnan(tracks.speaker_boxes[gap_rows]).all()
    assert all(2.0 - 0.2 <= g.start and g.end <= 4.5 + 0.2 for g in speaker.gaps)
    assert any(g.duration > 0.5 for g in speaker.gaps)
    values, mask = speaker.at([1.0, 3.2, 5.5])
    assert mask.tolist() == [True, False, True] and np.isnan(values[1]).all()
    # the face vanishing and coming back are cuts; the person after the gap is a new track
    assert len(tracks.faces) == 2 and tracks.faces[0].span[1] <= tracks.faces[1].span[0] + 1.6
    gap = max(speaker.gaps, key=lambda g: g.duration)
    lines = align(tracks, subtitles=[Interval(Segment(0.2, 1.2), "hi"), Interval(gap, "...")])
    assert lines[0].label in encoder.labels and lines[1].label is None
    assert lines[1].face_ratio == 0.0


@pytest.mark.skipif(not (SHARED_VIDEOS / "stage_multiface.mp4").exists(),
                    reason="shared multi-face clip absent")
def test_real_multiface_clip(encoder):
    tracks = encoder.track(SHARED_VIDEOS / "stage_multiface.mp4", faces="all")
    assert tracks.duration == pytest.approx(10.0, abs=0.1)
    for cut in (1.5, 3.6, 7.9):  # the three hard cuts, seen by eye
        assert any(abs(c - cut) <= 0.1 + 1e-6 for c in tracks.cuts)
    assert len(tracks.cuts) <= 4 and len(tracks.faces) >= 4
    assert (tracks.speaker_ids >= 0).sum() >= len(tracks.speaker) - 1
    ids = set(tracks.speaker_ids.tolist()) - {-1}
    assert ids <= {f.id for f in tracks.faces}
    for face in tracks.faces:  # boxes lie on the frame
        seen = face.boxes[~np.isnan(face.boxes[:, 0])]
        assert np.all(seen[:, 2] > 0) and np.all(seen[:, 0] < 640)
