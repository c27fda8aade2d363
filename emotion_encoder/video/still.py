"""Still images (JPEG, PNG, BMP, TIFF, WebP) as one-frame videos.

A still is read by OpenCV, the way the dataset loaders read one (so ``predict`` of an image
and ``evaluate`` of a set of them see the same pixels): the EXIF orientation applied,
grey, 16-bit and alpha images made 8-bit RGB, a multi-page TIFF's first page. ffmpeg
gives most image formats no duration, and it ignores EXIF orientation.

>>> import cv2, tempfile, os
>>> path = os.path.join(tempfile.mkdtemp(), "grey.png")
>>> _ = cv2.imwrite(path, np.full((30, 40), 200, np.uint8))
>>> probe_still(path)
VideoInfo(path='...grey.png', fps=25.0, duration=0.04, n_frames=1, width=40, height=30, sar=1.0, stream=0)
>>> read_still(path).shape, int(read_still(path)[0, 0, 1])
((30, 40, 3), 200)
"""

from __future__ import annotations

import os

import numpy as np

from emotion_encoder.errors import VideoError
from emotion_encoder.video.reader import VideoInfo, check_file

STILL_FPS = 25.0
"""The frame rate a still is given (ffmpeg's for an image): one frame of 0.04 s."""


def read_still(path: str | os.PathLike) -> np.ndarray:
    """The image at ``path`` as RGB uint8 ``HxWx3``; a one-line :class:`VideoError` if it
    is missing, empty or not a readable image."""
    import cv2  # only a still needs OpenCV here (``--help`` and videos do not)

    path = os.fspath(path)
    check_file(path)
    image = cv2.imread(path, cv2.IMREAD_COLOR)
    if image is None or 0 in image.shape:
        raise VideoError(path, "not a readable image")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def still_info(path: str | os.PathLike, frame: np.ndarray) -> VideoInfo:
    """The facts of the still at ``path`` whose pixels are ``frame``: a one-frame video."""
    height, width = frame.shape[:2]
    return VideoInfo(os.fspath(path), STILL_FPS, 1 / STILL_FPS, 1, width, height)


def probe_still(path: str | os.PathLike) -> VideoInfo:
    """A still's facts as a one-frame video (reading it once: images are small)."""
    return still_info(path, read_still(path))
