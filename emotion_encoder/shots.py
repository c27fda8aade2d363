"""Shot cuts: an abrupt change of the colour histogram between consecutive sampled frames.

Each frame is shrunk to ``width`` pixels and summarised by a normalised 2-D hue-saturation
histogram plus a value histogram (HSV); the distance between two frames is the mean of
their Bhattacharyya distances (0: same colours, 1: disjoint). A frame whose distance to the
previous one reaches ``threshold`` starts a new shot. Streaming: only the previous frame's
histograms are kept.

>>> detector = ShotCutDetector(threshold=0.3)
>>> dark, light = np.zeros((36, 64, 3), np.uint8), np.full((36, 64, 3), 230, np.uint8)
>>> [detector.is_cut(f) for f in (dark, dark, light, light)]
[False, False, True, False]
>>> detect_cuts([(0.0, dark), (0.1, dark), (0.2, light)])
[0.2]
"""

from __future__ import annotations

from typing import Iterable

import cv2
import numpy as np

DEFAULT_THRESHOLD = 0.3
"""Bhattacharyya distance at which consecutive frames belong to different shots."""


def hsv_histograms(frame: np.ndarray, width: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """Normalised hue-saturation (16x8 bins) and value (16 bins) histograms of an RGB frame."""
    h, w = frame.shape[:2]
    small = cv2.resize(frame, (width, max(1, round(h * width / w))), interpolation=cv2.INTER_AREA)
    hsv = cv2.cvtColor(np.ascontiguousarray(small), cv2.COLOR_RGB2HSV)
    hs = cv2.calcHist([hsv], [0, 1], None, [16, 8], [0, 180, 0, 256])
    v = cv2.calcHist([hsv], [2], None, [16], [0, 256])
    return hs / max(hs.sum(), 1.0), v / max(v.sum(), 1.0)


def histogram_distance(a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray]) -> float:
    """Mean Bhattacharyya distance of two :func:`hsv_histograms` results, in [0, 1]."""
    return float(np.mean([cv2.compareHist(x, y, cv2.HISTCMP_BHATTACHARYYA)
                          for x, y in zip(a, b)]))


class ShotCutDetector:
    """Tell, frame by frame, whether a frame starts a new shot.

    Args:
        threshold: histogram distance (see the module docstring) that makes a cut.
        width: frames are shrunk to this width before their histograms are taken.
    """

    def __init__(self, threshold: float = DEFAULT_THRESHOLD, width: int = 64):
        if not 0.0 < threshold <= 1.0:
            raise ValueError(f"threshold must be in (0, 1], got {threshold}")
        self.threshold = threshold
        self.width = width
        self._previous: tuple[np.ndarray, np.ndarray] | None = None
        self.last_distance = 0.0

    def is_cut(self, frame: np.ndarray) -> bool:
        """True when ``frame`` differs from the previous frame by at least the threshold."""
        hists = hsv_histograms(frame, self.width)
        previous, self._previous = self._previous, hists
        self.last_distance = 0.0 if previous is None else histogram_distance(previous, hists)
        return self.last_distance >= self.threshold


def detect_cuts(frames: Iterable[tuple[float, np.ndarray]],
                threshold: float = DEFAULT_THRESHOLD) -> list[float]:
    """Times of the frames that start a new shot, from ``(t, rgb_frame)`` pairs."""
    detector = ShotCutDetector(threshold)
    return [t for t, frame in frames if detector.is_cut(frame)]
