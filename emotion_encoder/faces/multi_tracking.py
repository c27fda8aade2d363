"""Follow every face of a frame stream: one track (an id) per person, reset at shot cuts.

The detector runs on keyframes: every ``detect_every``-th frame and every frame that
starts a new shot (see :mod:`emotion_encoder.shots`). Detections are matched to the live
tracks greedily, best pair first, a pair being allowed when the boxes overlap (IoU at
least ``min_iou``) or their centres lie within ``max_shift`` face sides; matched boxes are
smoothed (EMA on centre and size). A detection left over starts a new track; a track
unmatched for more than ``max_gap`` frames ends, and all tracks end at a cut (a person
seen after a cut gets a new id). Frames between keyframes show the boxes of the tracks
matched on the last keyframe, held. Memory: the live tracks only.

>>> tracker = MultiFaceTracker(make_detector("blazeface"), detect_every=2)   # doctest: +SKIP
>>> for f in iter_multi_face_crops(source.frames(10), tracker, size=48):      # doctest: +SKIP
...     print(f.t, f.cut, sorted(f.faces))                                    # 0.0 False [0, 1]
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable, Iterator

import numpy as np

from emotion_encoder.faces.detectors import Box, Detector, FaceDetection, box_iou
from emotion_encoder.faces.tracking import (FaceCrop, _from_cwh, _to_cwh, check_tracker_settings,
                                            model_crop, scale_box)
from emotion_encoder.shots import DEFAULT_THRESHOLD, ShotCutDetector


@dataclass(frozen=True)
class TrackedFace:
    """One tracked person's box on a frame."""

    id: int
    box: Box
    score: float


@dataclass(frozen=True, eq=False)
class MultiTrackedFrame:
    """A frame with the boxes of the people seen on it; ``cut``: it starts a new shot."""

    t: float
    frame: np.ndarray
    faces: tuple[TrackedFace, ...]
    cut: bool


@dataclass
class _Person:
    id: int
    box: Box
    score: float
    seen_at: int


def _shift(a: Box, b: Box) -> float:
    """Distance between the centres of two boxes, in sides of ``a`` (its longer side)."""
    side = max(a[2] - a[0], a[3] - a[1], 1e-6)
    return math.hypot(0.5 * (a[0] + a[2] - b[0] - b[2]), 0.5 * (a[1] + a[3] - b[1] - b[3])) / side


def match_boxes(tracks: list[Box], detections: list[Box], min_iou: float = 0.1,
                max_shift: float = 0.5) -> list[tuple[int, int]]:
    """Greedy one-to-one ``(track, detection)`` index pairs, most similar first.

    >>> match_boxes([(0, 0, 10, 10), (50, 0, 60, 10)], [(52, 1, 62, 11), (200, 0, 210, 10)])
    [(1, 0)]
    """
    pairs = []
    for a, tb in enumerate(tracks):
        for b, db in enumerate(detections):
            iou, shift = box_iou(tb, db), _shift(tb, db)
            if iou >= min_iou or shift <= max_shift:
                pairs.append((iou + max(0.0, 1.0 - shift), a, b))
    used_t: set[int] = set()
    used_d: set[int] = set()
    matches = []
    for _, a, b in sorted(pairs, reverse=True):
        if a not in used_t and b not in used_d:
            used_t.add(a)
            used_d.add(b)
            matches.append((a, b))
    return matches


class MultiFaceTracker:
    """Track every face of a stream of ``(t, rgb_frame)`` pairs (see the module docstring).

    Args:
        detector: anything with ``detect(frame) -> [FaceDetection]``.
        detect_every: run the detector on every k-th frame (and on every cut).
        max_gap: frames a track may go unmatched before it ends.
        min_iou, max_shift: when a detection may continue a track (see :func:`match_boxes`).
        smoothing: EMA weight of the past for matched boxes (0 = raw detections).
        cut_threshold: histogram distance of a shot cut; None: no cut detection.
    """

    def __init__(self, detector: Detector, detect_every: int = 2, max_gap: int = 5,
                 min_iou: float = 0.1, max_shift: float = 0.5, smoothing: float = 0.3,
                 cut_threshold: float | None = DEFAULT_THRESHOLD):
        check_tracker_settings(detect_every, max_gap, smoothing)
        self.detector = detector
        self.detect_every = detect_every
        self.max_gap = max_gap
        self.min_iou = min_iou
        self.max_shift = max_shift
        self.smoothing = smoothing
        self.cut_threshold = cut_threshold

    def track(self, frames: Iterable[tuple[float, np.ndarray]]) -> Iterator[MultiTrackedFrame]:
        """Yield a :class:`MultiTrackedFrame` per input frame, in order, without delay."""
        cuts = ShotCutDetector(self.cut_threshold) if self.cut_threshold else None
        people: list[_Person] = []
        next_id, last_key = 0, None
        for i, (t, frame) in enumerate(frames):
            cut = cuts is not None and cuts.is_cut(frame)
            if cut:
                people = []
            if cut or last_key is None or i - last_key >= self.detect_every:
                people, next_id = self._update(people, self.detector.detect(frame), i, next_id)
                last_key = i
            shown = tuple(TrackedFace(p.id, p.box, p.score) for p in people
                          if p.seen_at == last_key)
            yield MultiTrackedFrame(t, frame, shown, cut)

    def _update(self, people: list[_Person], faces: list[FaceDetection], i: int,
                next_id: int) -> tuple[list[_Person], int]:
        live = [p for p in people if i - p.seen_at <= self.max_gap]
        matches = match_boxes([p.box for p in live], [f.box for f in faces],
                              self.min_iou, self.max_shift)
        a = self.smoothing
        for k, d in matches:
            person, face = live[k], faces[d]
            person.box = _from_cwh(a * _to_cwh(person.box) + (1.0 - a) * _to_cwh(face.box))
            person.score, person.seen_at = face.score, i
        matched = {d for _, d in matches}
        for d, face in enumerate(faces):
            if d not in matched:
                live.append(_Person(next_id, face.box, face.score, i))
                next_id += 1
        return live, next_id


@dataclass(frozen=True, eq=False)
class FaceFrame:
    """A sampled frame's face crops by track id; ``cut``: the frame starts a new shot."""

    t: float
    faces: dict[int, FaceCrop]
    cut: bool


def iter_multi_face_crops(frames: Iterable[tuple[float, np.ndarray]], tracker: MultiFaceTracker,
                          size: int, margin: float = 0.25, offset: float = 0.0,
                          border: str = "edge", scale: tuple[float, float] = (1.0, 1.0)
                          ) -> Iterator[FaceFrame]:
    """Track every face and cut a ``size x size`` crop of each (as :func:`iter_face_crops`,
    ``scale`` too).

    >>> [sorted(f.faces) for f in iter_multi_face_crops(frames, tracker, 48)]  # doctest: +SKIP
    """
    for tracked in tracker.track(frames):
        crops = {face.id: FaceCrop(tracked.t, model_crop(tracked.frame, face.box, size, margin,
                                                         offset, border),
                                   scale_box(face.box, scale), face.score)
                 for face in tracked.faces}
        yield FaceFrame(tracked.t, crops, tracked.cut)
