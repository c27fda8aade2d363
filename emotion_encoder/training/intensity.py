"""Expressions at partial intensity: a sequence's neutral first frame blended with its apex.

Posed sets show each expression at its apex, and the network learns "neutral or full
expression"; people speaking with an emotion show it partly, and a network trained on
apexes reads them as neutral (the CREMA-D clips of the model card). CK+'s sequences run
from a neutral first frame to the apex, but the cut-down set keeps only those two ends.
With the first frame registered into the apex crop (:mod:`emotion_encoder.data.ckplus_onset`)
the two are the same face in the same framing, and their pixel blend at level ``a``
stands in for the cut intermediate frames: the target is the same mix, ``a`` of the
emotion and ``1 - a`` of neutral.

>>> first, apex = np.zeros((2, 2, 1), np.uint8), np.full((2, 2, 1), 200, np.uint8)
>>> images, targets = blend_intensities(first, apex, "anger", (0.25, 0.5))
>>> images[:, 0, 0, 0].tolist(), targets[1].round(2).tolist()
([50, 100], [0.5, 0.0, 0.0, 0.0, 0.0, 0.0, 0.5])
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from emotion_encoder.errors import EmotionEncoderError
from emotion_encoder.labels import CANONICAL_LABELS


def blend_intensities(first: np.ndarray, apex: np.ndarray, label: str,
                      levels: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    """``(len(levels), s, s, c)`` uint8 blends ``(1 - a) * first + a * apex`` and their
    ``(len(levels), 7)`` targets ``a`` of ``label`` and ``1 - a`` of neutral."""
    check_levels(levels)
    eye = np.eye(len(CANONICAL_LABELS), dtype=np.float32)
    emotion, neutral = eye[CANONICAL_LABELS.index(label)], eye[CANONICAL_LABELS.index("neutral")]
    a = np.asarray(levels, np.float32)
    images = (1.0 - a[:, None, None, None]) * first.astype(np.float32) \
        + a[:, None, None, None] * apex.astype(np.float32)
    targets = (1.0 - a[:, None]) * neutral + a[:, None] * emotion
    return np.clip(np.rint(images), 0, 255).astype(np.uint8), targets.astype(np.float32)


def check_levels(levels: object) -> None:
    """Raise unless ``levels`` is a non-empty list of numbers strictly between 0 and 1."""
    if not (isinstance(levels, (list, tuple)) and levels
            and all(isinstance(a, (int, float)) and 0.0 < a < 1.0 for a in levels)):
        raise EmotionEncoderError(f"intensity_levels {levels!r}: expected a list of numbers "
                                  "strictly between 0 and 1, e.g. [0.25, 0.5, 0.75]")
