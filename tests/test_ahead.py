"""Faces detected ahead of the tracker in threads (issue 16): the same faces, frame for
frame, as one detector; detections really overlap; memory stays bounded."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from emotion_encoder.errors import EmotionEncoderError
from emotion_encoder.faces import (DetectorPool, DominantFaceTracker, FaceDetection,
                                   keyframe_detections, make_detector)
from emotion_encoder.video import iter_frames


class Marks:
    """Reads the frame's number from its first pixel: a result that names the frame."""

    def __init__(self, barrier: threading.Barrier | None = None):
        self.barrier = barrier

    def detect(self, frame: np.ndarray) -> list[FaceDetection]:
        if self.barrier is not None:
            self.barrier.wait()  # returns only when another thread detects at the same time
        n = float(frame[0, 0, 0])
        return [FaceDetection((n, n, n + 1, n + 1), 0.9)]

    def close(self) -> None:
        pass


def numbered(n: int):
    return ((i / 10, np.full((2, 2, 3), i, np.uint8)) for i in range(n))


@pytest.mark.parametrize("every", [1, 2, 3, 5])
@pytest.mark.parametrize("n", [0, 1, 2, 7, 11])
def test_a_pool_hands_on_the_same_keyframes_and_faces_in_order(every, n):
    serial = [(i, t, None if f is None else [d.box for d in f])
              for i, t, _, f in keyframe_detections(numbered(n), Marks(), every)]
    with DetectorPool(Marks, workers=2) as pool:
        pooled = [(i, t, None if f is None else [d.box for d in f])
                  for i, t, _, f in keyframe_detections(numbered(n), pool, every)]
    assert pooled == serial
    assert [i for i, _, _ in serial] == list(range(n))
    keys = [i for i, _, faces in serial if faces is not None]
    assert keys == sorted(set(range(0, n, every)) | ({n - 1} if n else set()))
    assert all(faces == [(i, i, i + 1, i + 1)] for i, _, faces in serial if faces)


def test_two_detectors_really_detect_at_once_and_memory_is_bounded():
    barrier = threading.Barrier(2, timeout=10)  # one detector alone would break it
    pulled = []

    def stream():  # 39 frames: keyframes 0, 2, ..., 38, an even count to pair up
        for i, item in enumerate(numbered(39)):
            pulled.append(i)
            yield item

    with DetectorPool(lambda: Marks(barrier), workers=2) as pool:
        out = 0
        for i, _, _, faces in keyframe_detections(stream(), pool, every=2, ahead=4):
            assert i == out and len(pulled) - out <= 4 * 2 + 1
            out += 1
    assert out == 39 and not barrier.broken
    with pytest.raises(threading.BrokenBarrierError):  # the serial path never overlaps
        list(keyframe_detections(numbered(4), Marks(threading.Barrier(2, timeout=0.5)), 2))


def test_the_pool_tracks_a_real_face_as_one_detector_does(face_models, face_video):
    path, _ = face_video
    with make_detector("blazeface") as one, \
            DetectorPool(lambda: make_detector("blazeface"), workers=2) as pool:
        a = list(DominantFaceTracker(one, detect_every=3).track(iter_frames(path)))
        b = list(DominantFaceTracker(pool, detect_every=3).track(iter_frames(path)))
        frame = next(iter_frames(path))[1]
        assert [f.box for f in pool.detect(frame)] == [f.box for f in one.detect(frame)]
    assert len(a) == len(b) == 75
    assert [(f.t, f.box, f.score, f.detected) for f in a] == \
        [(f.t, f.box, f.score, f.detected) for f in b]
    assert sum(f.box is not None for f in a) >= 70


def test_the_encoder_gives_the_same_result_with_one_or_two_detector_threads(face_models,
                                                                           tmp_path):
    from emotion_encoder import EmotionEncoder
    from synthetic import write_face_video

    video = tmp_path / "face.mp4"
    write_face_video(video, seconds=3.0, fps=25)
    one = EmotionEncoder("fast", detector_threads=1)
    two = EmotionEncoder("fast", detector_threads=2)
    assert not isinstance(one.detector, DetectorPool) and two.detector.workers == 2
    a, b = one.predict(video), two.predict(video)
    assert len(a.clips) == len(b.clips) >= 2
    np.testing.assert_array_equal(a.track.probs, b.track.probs)
    np.testing.assert_array_equal(a.track.boxes, b.track.boxes)
    with pytest.raises(EmotionEncoderError, match="detector_threads must be >= 1"):
        EmotionEncoder("fast", detector_threads=0)
    with pytest.raises(EmotionEncoderError, match="detector workers must be >= 1"):
        DetectorPool(Marks, workers=0)


class Steps(Marks):
    """One face that jumps 100 px every 5th frame and stays still in between; frames 20-24
    show two faces (a second person comes in)."""

    def detect(self, frame: np.ndarray) -> list[FaceDetection]:
        n = int(frame[0, 0, 0])
        x = 100.0 * (n // 5)
        faces = [FaceDetection((x, 0, x + 50, 50), 0.9)]
        return faces + [FaceDetection((400, 0, 450, 50), 0.8)] if 20 <= n < 25 else faces


def adaptive_keyframes(n: int, every: int) -> list[int]:
    """The frames adaptive keyframes should detect, worked out from :class:`Steps`."""
    def faces(i):
        return [d.box for d in Steps().detect(np.full((1, 1, 3), i, np.uint8))]

    keys = set(range(0, n, 2 * every)) | ({n - 1} if n else set())
    for m in range(every, n, 2 * every):
        right = min(m + every, n - 1)
        if m == right or faces(m - every) != faces(right):
            keys.add(m)
    return sorted(keys)


@pytest.mark.parametrize("every", [1, 2, 3])
@pytest.mark.parametrize("n", [0, 1, 2, 3, 4, 9, 30, 41])
def test_adaptive_keyframes_detect_between_only_where_the_faces_moved(every, n):
    def run(detector):
        return [(i, t, None if f is None else [d.box for d in f])
                for i, t, _, f in keyframe_detections(numbered(n), detector, every,
                                                      adaptive=True)]

    serial = run(Steps())
    with DetectorPool(Steps, workers=2) as pool:
        assert run(pool) == serial
    assert [i for i, _, _ in serial] == list(range(n))
    keys = [i for i, _, faces in serial if faces is not None]
    assert keys == adaptive_keyframes(n, every)
    if n >= 30 and every <= 2:  # fewer detections than every k-th frame, more than 2k-th
        assert len(range(0, n, 2 * every)) < len(keys) < len(range(0, n, every))
    assert all(faces == [d.box for d in Steps().detect(np.full((1, 1, 3), i, np.uint8))]
               for i, _, faces in serial if faces is not None)


def test_adaptive_keyframes_keep_memory_bounded_and_raise_the_detectors_error():
    pulled = []

    def stream(n=60):
        for i, item in enumerate(numbered(n)):
            pulled.append(i)
            yield item

    with DetectorPool(Steps, workers=2) as pool:
        for out, (i, _, _, _) in enumerate(keyframe_detections(stream(), pool, every=2,
                                                              adaptive=True)):
            assert i == out and len(pulled) - out <= 8 * 4 + 2  # ahead 8 keyframes of 4

    class Fails(Marks):
        def detect(self, frame):
            if int(frame[0, 0, 0]) == 4:
                raise EmotionEncoderError("detector broke on frame 4")
            return super().detect(frame)

    for detector in (Fails(), DetectorPool(Fails, workers=2)):
        with pytest.raises(EmotionEncoderError, match="frame 4"):
            list(keyframe_detections(numbered(12), detector, every=1, adaptive=True))


def test_adaptive_keyframes_follow_a_real_face_with_fewer_detections(face_models, face_video,
                                                                     tmp_path):
    from emotion_encoder import EmotionEncoder
    from emotion_encoder.faces import box_iou
    from synthetic import write_face_video

    still = tmp_path / "still.mp4"
    write_face_video(still, seconds=3.0, fps=25, moving=False)
    with DetectorPool(lambda: make_detector("blazeface"), workers=2) as pool:
        for path, moving in ((face_video[0], True), (still, False)):
            fixed = list(DominantFaceTracker(pool, detect_every=2).track(iter_frames(path)))
            adaptive = list(DominantFaceTracker(pool, detect_every=2, adaptive=True)
                            .track(iter_frames(path)))
            assert [f.t for f in adaptive] == [f.t for f in fixed] and len(fixed) == 75
            detected = sum(f.detected for f in adaptive)
            assert sum(f.box is not None for f in adaptive) == \
                sum(f.box is not None for f in fixed) >= 70
            ious = [box_iou(a.box, b.box) for a, b in zip(adaptive, fixed) if a.box and b.box]
            assert min(ious) > 0.8 and np.mean(ious) > 0.95
            if not moving:  # every 4th frame and the last: no face moved in between
                assert detected == len(range(0, 75, 4)) + 1
            else:           # the sweep moves the face: most frames between are detected
                assert len(range(0, 75, 4)) + 1 < detected <= sum(f.detected for f in fixed)
    encoder = EmotionEncoder("fast", keyframes="adaptive")
    assert encoder.predict(still).sampling["keyframes"] == "adaptive"
    with pytest.raises(EmotionEncoderError, match="keyframes must be one of fixed, adaptive"):
        EmotionEncoder("fast", keyframes="sometimes")
