"""A short example video made from a real photo (and the photo itself), for a first run and
for the demo.

The photo is scikit-image's ``astronaut`` (Eileen Collins, NASA, public domain), which
ships inside scikit-image, so the example needs no download.

>>> write_example_video("example.mp4")  # doctest: +SKIP
PosixPath('example.mp4')
>>> write_example_photo("example.png")  # doctest: +SKIP
PosixPath('example.png')
"""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

from emotion_encoder.atomic import atomic_path


def astronaut() -> np.ndarray:
    """The 512 x 512 RGB astronaut photo (a real face at about x 170-300, y 30-200)."""
    from skimage import data

    return data.astronaut()


def example_frames(seconds: float = 4.0, fps: float = 25.0,
                   size: tuple[int, int] = (640, 360)) -> np.ndarray:
    """Frames of a slow zoom and pan over the photo, ``(n, h, w, 3)`` uint8."""
    photo = astronaut()
    width, height = size
    n = max(1, int(round(seconds * fps)))
    frames = np.empty((n, height, width, 3), np.uint8)
    for i in range(n):
        phase = i / max(1, n - 1)
        zoom = 1.0 + 0.3 * phase
        cx, cy = 235 + 10 * np.sin(2 * np.pi * phase), 200 - 40 * phase
        side = 512 / zoom
        x0, y0 = cx - side / 2, cy - side * height / width / 2
        matrix = np.array([[side / width, 0, x0], [0, side / width, y0]], np.float32)
        frames[i] = cv2.warpAffine(photo, matrix, (width, height), flags=cv2.WARP_INVERSE_MAP
                                   | cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    return frames


def write_example_photo(path: str | os.PathLike) -> Path:
    """Write the astronaut photo as a PNG (atomically), the example of a still."""
    path = Path(path)
    with atomic_path(path, path.suffix or ".png") as tmp:
        if not cv2.imwrite(str(tmp), cv2.cvtColor(astronaut(), cv2.COLOR_RGB2BGR)):
            raise OSError(f"{path}: could not write the example photo")
    return path


def write_example_video(path: str | os.PathLike, seconds: float = 4.0, fps: float = 25.0,
                        size: tuple[int, int] = (640, 360)) -> Path:
    """Write the example clip as H.264 (atomically: temp file, then rename)."""
    from moviepy import ImageSequenceClip

    path = Path(path)
    with atomic_path(path, path.suffix or ".mp4") as tmp:
        clip = ImageSequenceClip(list(example_frames(seconds, fps, size)), fps=fps)
        clip.write_videofile(str(tmp), codec="libx264", audio=False, logger=None)
    return path
