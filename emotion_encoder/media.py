"""The one list of media file suffixes: what a folder scan, a glob or a dataset loader picks
up as a video or an image (lower case, with the dot).

>>> ".mp4" in VIDEO_SUFFIXES, is_video("Clip.MOV"), is_image("face.TIFF")
(True, True, True)
"""

from __future__ import annotations

import os
from pathlib import Path

VIDEO_SUFFIXES = frozenset({".mp4", ".m4v", ".mov", ".mkv", ".avi", ".webm", ".flv", ".mpg",
                            ".mpeg", ".wmv", ".ts", ".mts", ".3gp", ".ogv"})
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"})


def is_video(path: str | os.PathLike) -> bool:
    """Whether ``path``'s suffix is a video suffix (any case)."""
    return Path(path).suffix.lower() in VIDEO_SUFFIXES


def is_image(path: str | os.PathLike) -> bool:
    """Whether ``path``'s suffix is an image suffix (any case)."""
    return Path(path).suffix.lower() in IMAGE_SUFFIXES
