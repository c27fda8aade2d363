"""Turn stills or short frame sequences into clips with small, smooth random motion.

Video data sets are small; still-face sets are large. A clip whose frames drift by a few
pixels, zoom and turn slightly, and change brightness gradually, teaches the temporal
modules that a steady expression under camera or head motion keeps its label.

>>> import numpy as np
>>> clip = moving_clip(np.zeros((1, 48, 48, 1), np.uint8), 16, np.random.default_rng(0))
>>> clip.shape
(16, 48, 48, 1)
"""

from __future__ import annotations

import cv2
import numpy as np

from emotion_encoder.sampling import fixed_interval_indices


def moving_clip(frames: np.ndarray, length: int, rng: np.random.Generator,
                shift: float = 0.05, zoom: float = 0.06, angle: float = 6.0,
                brightness: float = 12.0) -> np.ndarray:
    """``length`` frames sampled evenly from ``frames`` (n, h, w, c), moving smoothly from
    one random pose to another (a still is a sequence of one frame)."""
    h, w, channels = frames.shape[1:]
    start, end = (np.array([rng.uniform(-shift, shift) * w, rng.uniform(-shift, shift) * h,
                            1 + rng.uniform(-zoom, zoom), rng.uniform(-angle, angle),
                            rng.uniform(-brightness, brightness)]) for _ in range(2))
    flip = rng.random() < 0.5
    out = np.empty((length, h, w, channels), np.uint8)
    for i, (a, index) in enumerate(zip(np.linspace(0, 1, length),
                                       fixed_interval_indices(len(frames), length))):
        dx, dy, scale, rot, light = (1 - a) * start + a * end
        matrix = cv2.getRotationMatrix2D((w / 2, h / 2), rot, scale)
        matrix[:, 2] += (dx, dy)
        frame = cv2.warpAffine(frames[index], matrix, (w, h), borderMode=cv2.BORDER_REFLECT)
        frame = np.clip(frame.astype(np.float32) + light, 0, 255).astype(np.uint8)
        frame = frame.reshape(h, w, channels)
        out[i] = frame[:, ::-1] if flip else frame
    return out
