"""Synthetic test videos: cartoon faces drawn with OpenCV, and a real face photo.

>>> boxes = write_face_video("face.mp4", seconds=1.0)          # doctest: +SKIP
>>> len(boxes), boxes[0]                                       # doctest: +SKIP
(25, [(118.0, 68.0, 202.0, 172.0)])
"""

from __future__ import annotations

import math
import os
from typing import Sequence

import cv2
import numpy as np
from moviepy import ImageSequenceClip
from skimage import data

Box = tuple[float, float, float, float]

CODECS = {".mp4": "libx264", ".mkv": "libx264", ".mov": "libx264", ".flv": "libx264",
          ".avi": "mpeg4", ".webm": "libvpx"}
"""Codec used for each container by :func:`write_video`."""

ASTRONAUT_FACE: Box = (175.0, 70.0, 275.0, 180.0)
"""Eileen Collins' face in ``skimage.data.astronaut()`` (x0, y0, x1, y1), brow to chin."""

SKIN = (226, 180, 150)


def astronaut() -> np.ndarray:
    """The 512x512 RGB astronaut photo from scikit-image (a real, public-domain face)."""
    return data.astronaut()


def background(size: tuple[int, int], t: float = 0.0) -> np.ndarray:
    """A soft blue-grey vertical gradient of ``size = (width, height)``."""
    w, h = size
    ramp = np.linspace(0.0, 1.0, h, dtype=np.float32)[:, None, None]
    top, bottom = np.array([70, 90, 120], np.float32), np.array([150, 160, 170], np.float32)
    img = top + (bottom - top) * ramp + 4.0 * math.sin(t)
    return np.broadcast_to(img, (h, w, 3)).clip(0, 255).astype(np.uint8).copy()


def draw_face(img: np.ndarray, center: tuple[float, float], height: float) -> Box:
    """Draw a frontal cartoon face (skin, hair, eyes, brows, nose, mouth); return its box."""
    cx, cy = center
    h = height
    w = 0.78 * h

    def pt(dx: float, dy: float) -> tuple[int, int]:
        return int(round(cx + dx * w)), int(round(cy + dy * h))

    def ax(a: float, b: float) -> tuple[int, int]:
        return max(1, int(round(a * w))), max(1, int(round(b * h)))

    cv2.ellipse(img, pt(0, -0.08), ax(0.56, 0.55), 0, 180, 360, (60, 40, 30), -1)  # hair
    cv2.ellipse(img, pt(0, 0), ax(0.5, 0.5), 0, 0, 360, SKIN, -1)
    cv2.ellipse(img, pt(0, -0.12), ax(0.52, 0.42), 0, 200, 340, (60, 40, 30), -1)  # fringe
    for side in (-1, 1):
        cv2.ellipse(img, pt(side * 0.2, -0.06), ax(0.12, 0.055), 0, 0, 360, (250, 250, 250), -1)
        cv2.circle(img, pt(side * 0.2, -0.06), max(1, int(0.045 * h)), (50, 35, 25), -1)
        cv2.ellipse(img, pt(side * 0.2, -0.16), ax(0.13, 0.04), 0, 200, 340, (60, 40, 30),
                    max(1, int(0.025 * h)))
    cv2.line(img, pt(0, -0.04), pt(-0.05, 0.12), (180, 120, 100), max(1, int(0.02 * h)))
    cv2.line(img, pt(-0.05, 0.12), pt(0.04, 0.13), (180, 120, 100), max(1, int(0.02 * h)))
    cv2.ellipse(img, pt(0, 0.25), ax(0.16, 0.06), 0, 0, 180, (170, 60, 60), max(1, int(0.03 * h)))
    return (cx - 0.5 * w, cy - 0.5 * h, cx + 0.5 * w, cy + 0.5 * h)


def face_path(i: int, n: int, size: tuple[int, int], k: int = 0, faces: int = 1,
              moving: bool = True) -> tuple[float, float]:
    """Centre of face ``k`` in frame ``i`` of ``n``: a smooth sideways sweep with a bob.

    A lone face sweeps across the middle; with two, face 0 sweeps on the left and
    face 1 stays still on the right.
    """
    w, h = size
    phase = i / max(1, n - 1) if moving else 0.5
    if k == 1:
        return w * 0.78, h * 0.55
    lo, hi = (0.35, 0.65) if faces == 1 else (0.2, 0.4)
    cx = w * (lo + (hi - lo) * phase)
    cy = h * (0.5 + 0.06 * math.sin(2 * math.pi * phase))
    return cx, cy


def face_frames(seconds: float = 3.0, fps: float = 25, size: tuple[int, int] = (320, 240),
                face: bool = True, moving: bool = True, faces: int = 1,
                no_face_spans: Sequence[tuple[float, float]] = ()
                ) -> tuple[list[np.ndarray], list[list[Box]]]:
    """Frames of drawn faces and, per frame, the true boxes (empty where no face).

    With ``faces=2`` the first face sweeps on the left and a smaller one stays right.
    ``no_face_spans`` are ``(start_s, end_s)`` spans with a blank background.
    """
    n = max(1, round(seconds * fps))
    frames, boxes = [], []
    for i in range(n):
        t = i / fps
        img = background(size, t)
        frame_boxes: list[Box] = []
        hidden = any(a <= t < b for a, b in no_face_spans)
        if face and not hidden:
            for k in range(faces):
                height = size[1] * (0.45 if k == 0 else 0.3)
                centre = face_path(i, n, size, k, faces, moving)
                frame_boxes.append(draw_face(img, centre, height))
        frames.append(img)
        boxes.append(frame_boxes)
    return frames, boxes


def write_video(path: str | os.PathLike, frames: Sequence[np.ndarray], fps: float,
                codec: str | None = None, ffmpeg_params: list[str] | None = None) -> str:
    """Write RGB frames with moviepy, choosing the codec from the extension."""
    path = os.fspath(path)
    codec = codec or CODECS[os.path.splitext(path)[1].lower()]
    params = list(ffmpeg_params or [])
    if codec == "libx264":
        params += ["-pix_fmt", "yuv420p"]
    ImageSequenceClip(list(frames), fps=fps).write_videofile(
        path, codec=codec, audio=False, logger=None, ffmpeg_params=params or None)
    return path


def write_face_video(path: str | os.PathLike, seconds: float = 3.0, fps: float = 25,
                     size: tuple[int, int] = (320, 240), face: bool = True,
                     moving: bool = True, faces: int = 1,
                     no_face_spans: Sequence[tuple[float, float]] = (),
                     codec: str | None = None) -> list[list[Box]]:
    """Write a video of drawn faces (see :func:`face_frames`); return the true boxes."""
    frames, boxes = face_frames(seconds, fps, size, face, moving, faces, no_face_spans)
    write_video(path, frames, fps, codec)
    return boxes
