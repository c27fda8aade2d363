"""BlazeFace on the LiteRT interpreter (the default detector) against mediapipe's Tasks
runtime of the same model files: anchors, post-processing, boxes and scores frame by frame,
and the encoder's result on a real labelled clip."""

from __future__ import annotations

import glob
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from emotion_encoder.faces import BlazeFaceDetector, LiteRTBlazeFace, box_iou, make_detector
from emotion_encoder.faces.blazeface_litert import ssd_anchors, weighted_nms
from emotion_encoder.video.reader import iter_frames

SHARED_VIDEOS = Path(__file__).resolve().parents[2] / "shared" / "data" / "videos"


def test_anchor_layouts_match_the_models_outputs():
    short = ssd_anchors(128, (8, 16, 16, 16), (2, 6))
    full = ssd_anchors(192, (4,), (1,))
    assert short.shape == (896, 2) and full.shape == (2304, 2)
    # stride 8 map: 16 x 16 cells, two anchors each, row by row; then 8 x 8 cells, six each
    np.testing.assert_allclose(short[:4], [[1 / 32, 1 / 32]] * 2 + [[3 / 32, 1 / 32]] * 2)
    np.testing.assert_allclose(short[512:518], [[1 / 16, 1 / 16]] * 6)
    np.testing.assert_allclose(full[[0, 1, 48, 2303]],
                               [[1 / 96, 1 / 96], [3 / 96, 1 / 96], [1 / 96, 3 / 96],
                                [95 / 96, 95 / 96]])


def test_weighted_nms_merges_overlaps_and_keeps_the_rest():
    boxes = np.array([[0, 0, 10, 10], [1, 0, 11, 10], [50, 50, 60, 60], [0, 0, 10, 30]],
                     np.float32)
    merged = weighted_nms(boxes, np.array([0.6, 0.8, 0.7, 0.9]), 0.3)
    # the 0.9 box overlaps the first two by IoU 1/3 and 0.26: only the first joins it
    assert [s for _, s in merged] == [0.9, 0.8, 0.7]
    np.testing.assert_allclose(merged[0][0], (0.6 * boxes[0] + 0.9 * boxes[3]) / 1.5, rtol=1e-6)
    np.testing.assert_allclose(merged[1][0], boxes[1])
    np.testing.assert_allclose(merged[2][0], boxes[2])
    assert weighted_nms(boxes[:0], np.zeros(0), 0.3) == []


def _frames(face_video, astronaut_image) -> list[np.ndarray]:
    path, _ = face_video
    frames = [f for _, f in iter_frames(path)][::3]
    frames.append(astronaut_image)
    frames.append(astronaut_image[::-1].copy())
    for video in sorted(glob.glob(str(SHARED_VIDEOS / "*.mp4"))):
        frames += [f for _, f in iter_frames(video, fps=2)]
    return frames


def _matched(faces, others, min_score: float) -> list[tuple]:
    """Each face of ``faces`` scoring >= ``min_score`` with its best match in ``others``
    (a face near the 0.5 threshold may be kept by one runtime only: scores differ ~0.01)."""
    pairs = []
    for face in faces:
        if face.score >= min_score:
            best = max(others, key=lambda o: box_iou(face.box, o.box), default=None)
            pairs.append((face, best))
    return pairs


@pytest.mark.parametrize("model", ["full", "short"])
def test_same_faces_as_mediapipe_tasks(face_models, face_video, astronaut_image, model):
    """Frame by frame, the LiteRT runner finds the faces mediapipe's runtime finds, with
    the same integer boxes to a pixel (a few float differences move one box by more)."""
    frames = _frames(face_video, astronaut_image)
    gaps = []
    with LiteRTBlazeFace(model) as ours, BlazeFaceDetector(model) as tasks:
        for frame in frames:
            a, b = tasks.detect(frame), ours.detect(frame)
            assert all(v == int(v) for f in b for v in f.box)
            for x, y in _matched(a, b, 0.6) + _matched(b, a, 0.6):
                assert y is not None and abs(x.score - y.score) < 0.02
                gaps.append(float(np.abs(np.subtract(x.box, y.box)).max()))
    assert len(gaps) >= 40
    assert np.mean(np.array(gaps) <= 1) >= 0.9, sorted(gaps)[-10:]
    assert max(gaps) <= 4


def test_finds_tight_crops_through_padded_retry(face_models, astronaut_image):
    crop = astronaut_image[30:200, 170:300]  # the face, hardly any context
    with make_detector("blazeface") as ours, make_detector("blazeface-mediapipe") as tasks:
        a, b = tasks.detect(crop), ours.detect(crop)
    assert b and b[0].padded == a[0].padded
    assert np.abs(np.subtract(a[0].box, b[0].box)).max() <= 3


def test_min_score_and_blank_frames(face_models, astronaut_image):
    with LiteRTBlazeFace("full", min_score=0.99) as strict, LiteRTBlazeFace("full") as det:
        assert strict.detect(astronaut_image) == []
        assert len(det.detect(astronaut_image)) == 1
        assert det.detect(np.zeros((360, 640, 3), np.uint8)) == []
        # grey and float frames are converted as for the Tasks runtime
        grey = astronaut_image.mean(axis=2).astype(np.uint8)
        assert len(det.detect(grey)) == 1
        assert det.detect(astronaut_image / 255.0)[0].box == det.detect(astronaut_image)[0].box


@pytest.mark.skipif(not (SHARED_VIDEOS / "mead_disgusted.mp4").exists(),
                    reason="needs ../shared/data/videos")
def test_encoder_reads_a_real_clip_alike_on_both_runtimes(face_models):
    from emotion_encoder import EmotionEncoder

    video = SHARED_VIDEOS / "mead_disgusted.mp4"
    results = [EmotionEncoder("fast", detector=name, backend="keras").predict(video)
               for name in ("blazeface", "blazeface-mediapipe")]
    ours, tasks = results
    assert ours.video_label == tasks.video_label == "disgust"
    assert len(ours.clips) == len(tasks.clips) > 3
    for a, b in zip(ours.clips, tasks.clips):
        assert a.label == b.label
        assert max(abs(a.probs[k] - b.probs[k]) for k in a.probs) < 0.05
        box = lambda c: [getattr(c.face, k) for k in ("x0", "y0", "x1", "y1")]  # noqa: E731
        assert np.abs(np.subtract(box(a), box(b))).max() <= 3


def test_the_default_detector_never_loads_mediapipe(face_models):
    """The start-up it saves: the default path imports neither mediapipe nor TensorFlow."""
    code = ("import sys\n"
            "from skimage import data\n"
            "from emotion_encoder.faces import make_detector\n"
            "with make_detector() as det:\n"
            "    faces = det.detect(data.astronaut())\n"
            "print(len(faces), 'mediapipe' in sys.modules, 'tensorflow' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.split() == ["1", "False", "False"]
