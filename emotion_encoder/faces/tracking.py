"""Follow the dominant face of a frame stream and cut square face crops from it.

The detector runs on every ``detect_every``-th frame (a keyframe). The tracker keeps
one face: the largest and surest, with a bonus for overlapping the face it already
follows, so it does not hop between people. Keyframe boxes are smoothed (EMA on centre
and size) and the frames between two keyframes get linearly interpolated boxes, which
needs a look-ahead of ``detect_every`` frames (one more to know the last frame, and a few
keyframes more when a :class:`~emotion_encoder.faces.ahead.DetectorPool` detects ahead);
memory stays bounded by that.

>>> tracker = DominantFaceTracker(make_detector("blazeface"), detect_every=2)   # doctest: +SKIP
>>> for crop in iter_face_crops(iter_frames("clip.mp4", fps=10), tracker, size=112):  # doctest: +SKIP
...     print(crop.t, None if crop.crop is None else crop.crop.shape)         # 0.0 (112, 112, 3)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Iterable, Iterator

import cv2
import numpy as np

from emotion_encoder.errors import EmotionEncoderError
from emotion_encoder.faces.ahead import keyframe_detections
from emotion_encoder.faces.detectors import Box, Detector, FaceDetection, box_iou

SAME_FACE_IOU = 0.05
"""Two boxes on consecutive keyframes with less overlap than this are different faces
(a cut or a switch of person): the frames between them get no box."""


def square_box(box: Box, margin: float = 0.25,
               frame_shape: tuple[int, ...] | None = None) -> Box:
    """A square around ``box``, its side the box's longer side enlarged by ``margin``.

    The square may reach past the frame; with ``frame_shape`` its side is capped at the
    frame's longer side (but never below the box's own longer side).

    >>> square_box((10, 20, 30, 60), margin=0.5)
    (-10.0, 10.0, 50.0, 70.0)
    >>> square_box((0, 0, 100, 100), margin=0.5, frame_shape=(120, 110, 3))
    (-10.0, -10.0, 110.0, 110.0)
    """
    x0, y0, x1, y1 = box
    cx, cy = 0.5 * (x0 + x1), 0.5 * (y0 + y1)
    longest = max(x1 - x0, y1 - y0)
    side = longest * (1.0 + margin)
    if frame_shape is not None:
        side = max(longest, min(side, max(frame_shape[0], frame_shape[1])))
    half = 0.5 * side
    return (cx - half, cy - half, cx + half, cy + half)


BORDERS = {"edge": cv2.BORDER_REPLICATE, "black": cv2.BORDER_CONSTANT}


def crop_face(frame: np.ndarray, box: Box, size: int, border: str = "edge") -> np.ndarray:
    """Cut ``box`` out of an RGB frame and resize it to ``size x size`` uint8.

    Parts of the box beyond the frame are filled with the nearest edge pixels
    (``border="edge"``) or black (``border="black"``).

    >>> int(crop_face(np.full((10, 10, 3), 200, np.uint8), (-5, -5, 5, 5), 4, "black")[0, 0, 0])
    0
    """
    if border not in BORDERS:
        raise EmotionEncoderError(f"unknown border {border!r}; choose 'edge' or 'black'")
    h, w = frame.shape[:2]
    x0, y0 = int(math.floor(box[0])), int(math.floor(box[1]))
    x1, y1 = max(x0 + 1, int(math.ceil(box[2]))), max(y0 + 1, int(math.ceil(box[3])))
    cx0, cy0, cx1, cy1 = max(0, x0), max(0, y0), min(w, x1), min(h, y1)
    if cx0 >= cx1 or cy0 >= cy1:  # the box lies wholly outside the frame
        return np.zeros((size, size, 3), np.uint8)
    patch = np.ascontiguousarray(frame[cy0:cy1, cx0:cx1])
    patch = cv2.copyMakeBorder(patch, cy0 - y0, y1 - cy1, cx0 - x0, x1 - cx1,
                               BORDERS[border], value=(0, 0, 0))
    shrinking = patch.shape[0] > size or patch.shape[1] > size
    return cv2.resize(patch, (size, size),
                      interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR)


@dataclass(frozen=True, eq=False)
class TrackedFrame:
    """A frame with the dominant face's box (None when there is no face).

    ``detected`` is True on keyframes, where the detector ran; other boxes are
    interpolated between the two keyframes around the frame. ``padded``: the box came
    from a padded search (a tight face crop, :class:`PaddedRetry`).
    """

    t: float
    frame: np.ndarray
    box: Box | None
    score: float | None
    detected: bool
    padded: bool = False


@dataclass
class _Track:
    """State of one pass: the smoothed box of the followed face and when it was seen."""

    box: Box | None = None
    seen_at: int = -1
    keyframe: TrackedFrame | None = None
    key_index: int = -1
    pending: list[tuple[int, float, np.ndarray]] = field(default_factory=list)


def _to_cwh(box: Box) -> np.ndarray:
    x0, y0, x1, y1 = box
    return np.array([0.5 * (x0 + x1), 0.5 * (y0 + y1), x1 - x0, y1 - y0])


def _from_cwh(c: np.ndarray) -> Box:
    cx, cy, w, h = (float(v) for v in c)
    return (cx - 0.5 * w, cy - 0.5 * h, cx + 0.5 * w, cy + 0.5 * h)


def check_tracker_settings(detect_every: int, max_gap: int, smoothing: float) -> None:
    """Reject settings no tracker can use, with a one-line error."""
    if detect_every < 1:
        raise EmotionEncoderError(f"detect_every must be >= 1, got {detect_every}")
    if max_gap < 0:
        raise EmotionEncoderError(f"max_gap must be >= 0, got {max_gap}")
    if not 0.0 <= smoothing < 1.0:
        raise EmotionEncoderError(f"smoothing must be in [0, 1), got {smoothing}")


class DominantFaceTracker:
    """Track the dominant face of a stream of ``(t, rgb_frame)`` pairs.

    Args:
        detector: anything with ``detect(frame) -> [FaceDetection]`` (see ``make_detector``);
            a :class:`~emotion_encoder.faces.ahead.DetectorPool` detects the next keyframes
            in threads while the tracker works (the same boxes).
        detect_every: run the detector on every k-th frame (and on the last one).
        adaptive: run it on every 2k-th frame, and on the k-th between two only where
            their faces moved (:func:`~emotion_encoder.faces.ahead.keyframe_detections`).
        smoothing: EMA weight of the past for keyframe boxes (0 = raw detections).
        max_gap: frames without a detection after which the followed face is forgotten:
            the next face found starts a new track, unsmoothed and with no continuity bonus.
        continuity: bonus for a face overlapping the followed one; a candidate's weight is
            ``area * score * (1 + continuity * IoU)``.

    >>> tracker = DominantFaceTracker(detector, detect_every=2)      # doctest: +SKIP
    >>> [f.box is not None for f in tracker.track(frames)]          # doctest: +SKIP
    """

    def __init__(self, detector: Detector, detect_every: int = 2, smoothing: float = 0.5,
                 max_gap: int = 10, continuity: float = 2.0, adaptive: bool = False):
        check_tracker_settings(detect_every, max_gap, smoothing)
        self.detector = detector
        self.detect_every = detect_every
        self.adaptive = adaptive
        self.smoothing = smoothing
        self.max_gap = max_gap
        self.continuity = continuity

    def choose(self, faces: list[FaceDetection], current: Box | None) -> FaceDetection | None:
        """The dominant face among ``faces``, favouring those overlapping ``current``."""
        def weight(face: FaceDetection) -> float:
            bonus = self.continuity * box_iou(face.box, current) if current else 0.0
            return face.area * face.score * (1.0 + bonus)

        return max(faces, key=weight, default=None)

    def track(self, frames: Iterable[tuple[float, np.ndarray]]) -> Iterator[TrackedFrame]:
        """Yield a :class:`TrackedFrame` per input frame, in order (``detect_every`` behind)."""
        state = _Track()
        for i, t, frame, faces in keyframe_detections(frames, self.detector, self.detect_every,
                                                      adaptive=self.adaptive):
            if faces is None:
                state.pending.append((i, t, frame))
            else:
                yield from self._keyframe(state, i, t, frame, faces)

    def _keyframe(self, state: _Track, i: int, t: float, frame: np.ndarray,
                  faces: list[FaceDetection]) -> Iterator[TrackedFrame]:
        alive = state.box is not None and i - state.seen_at <= self.max_gap
        face = self.choose(faces, state.box if alive else None)
        box = score = None
        padded = False
        if face is not None:
            box, score, padded = face.box, face.score, face.padded
            if alive and box_iou(state.box, box) >= SAME_FACE_IOU:
                a = self.smoothing
                box = _from_cwh(a * _to_cwh(state.box) + (1.0 - a) * _to_cwh(face.box))
            state.box, state.seen_at = box, i
        key = TrackedFrame(t, frame, box, score, True, padded)
        yield from self._between(state, i, key)
        state.keyframe, state.key_index = key, i
        yield key

    def _between(self, state: _Track, i: int, key: TrackedFrame) -> Iterator[TrackedFrame]:
        """The frames after the last keyframe, boxed only when both keyframes hold one face."""
        prev = state.keyframe
        both = (prev is not None and prev.box is not None and key.box is not None
                and box_iou(prev.box, key.box) >= SAME_FACE_IOU)
        for j, t, frame in state.pending:
            if not both:
                yield TrackedFrame(t, frame, None, None, False)
                continue
            w = (j - state.key_index) / (i - state.key_index)
            box = _from_cwh((1.0 - w) * _to_cwh(prev.box) + w * _to_cwh(key.box))
            yield TrackedFrame(t, frame, box, (1.0 - w) * prev.score + w * key.score, False,
                               prev.padded or key.padded)
        state.pending.clear()


@dataclass(frozen=True, eq=False)
class FaceCrop:
    """A square face crop (None when no face) with the face box it came from, in the pixels
    of the video's own frames (see :func:`iter_face_crops`); ``padded`` when the box was
    found only in a padded frame (a tight face crop)."""

    t: float
    crop: np.ndarray | None
    box: Box | None
    score: float | None
    padded: bool = False


def iter_face_crops(frames: Iterable[tuple[float, np.ndarray]], tracker: DominantFaceTracker,
                    size: int, margin: float = 0.25, offset: float = 0.0,
                    border: str = "edge", scale: tuple[float, float] = (1.0, 1.0)
                    ) -> Iterator[FaceCrop]:
    """Track the dominant face and cut a ``size x size`` crop per frame.

    The crop is the face's square box enlarged by ``margin`` and shifted down by ``offset``
    times its side (negative: up). ``scale``: the source's :attr:`~FrameSource.scale`, so
    that the boxes are in the pixels of the video's own frames when ``frames`` come shrunk.

    >>> crops = list(iter_face_crops(source.frames(10), tracker, size=112,  # doctest: +SKIP
    ...                              scale=source.scale))
    """
    for tracked in tracker.track(frames):
        crop = None
        if tracked.box is not None:
            crop = model_crop(tracked.frame, tracked.box, size, margin, offset, border)
        yield FaceCrop(tracked.t, crop, scale_box(tracked.box, scale), tracked.score,
                       tracked.padded)


def scale_box(box: Box | None, scale: tuple[float, float]) -> Box | None:
    """``box`` with its x coordinates times ``scale[0]`` and its y times ``scale[1]``.

    >>> scale_box((10.0, 20.0, 30.0, 40.0), (1.5, 2.0))
    (15.0, 40.0, 45.0, 80.0)
    """
    if box is None or scale == (1.0, 1.0):
        return box
    sx, sy = scale
    return box[0] * sx, box[1] * sy, box[2] * sx, box[3] * sy


def fill_gaps(frames: list[FaceCrop]) -> list[np.ndarray]:
    """The crops of ``frames`` (at least one with a face), each frame without a face taking
    the nearest frame's crop.

    >>> a, b = np.zeros((2, 2, 3), np.uint8), np.ones((2, 2, 3), np.uint8)
    >>> [int(c[0, 0, 0]) for c in fill_gaps([FaceCrop(0, a, (0, 0, 1, 1), 1.0),
    ...     FaceCrop(1, None, None, None), FaceCrop(2, None, None, None),
    ...     FaceCrop(3, b, (0, 0, 1, 1), 1.0)])]
    [0, 0, 1, 1]
    """
    have = [i for i, f in enumerate(frames) if f.crop is not None]
    return [frames[min(have, key=lambda j: abs(j - i))].crop for i in range(len(frames))]


def model_crop(frame: np.ndarray, box: Box, size: int, margin: float = 0.25,
               offset: float = 0.0, border: str = "edge") -> np.ndarray:
    """The ``size x size`` crop of a face box: its square enlarged by ``margin``, shifted
    down by ``offset`` times its side (see :func:`iter_face_crops`).

    >>> model_crop(np.zeros((100, 100, 3), np.uint8), (40, 40, 60, 60), 16).shape
    (16, 16, 3)
    """
    x0, y0, x1, y1 = square_box(box, margin, frame.shape)
    dy = offset * (y1 - y0)
    return crop_face(frame, (x0, y0 + dy, x1, y1 + dy), size, border)
