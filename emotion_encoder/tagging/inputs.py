"""What ``tag`` reads: files, folders (recursive) and globs expanded to video files and
still images (one-frame videos), and the stable result file name of each.

>>> result_name("/data/clip one.mp4")
'clip one.0743959c.json'
"""

from __future__ import annotations

import glob
import hashlib
import os
from pathlib import Path
from typing import Iterable

from emotion_encoder.media import is_image, is_video


class TagInputError(Exception):
    """An input that names nothing (missing file, empty glob)."""


def expand_inputs(inputs: Iterable[str | os.PathLike], stills: bool = True) -> list[Path]:
    """Files as given; folders searched recursively and globs expanded, for video files and
    (``stills``) still images.

    Order is kept, duplicates dropped. An input that matches nothing raises
    :class:`TagInputError`.
    """
    def wanted(p: Path) -> bool:
        return p.is_file() and (is_video(p) or (stills and is_image(p)))

    kinds = "video file or image" if stills else "video file"
    found: list[Path] = []
    for item in inputs:
        text = os.fspath(item)
        path = Path(text)
        if path.is_dir():
            matches = sorted(p for p in path.rglob("*") if wanted(p))
            if not matches:
                raise TagInputError(f"{text}: no {kinds} in this folder")
        elif path.exists():
            matches = [path]
        elif glob.has_magic(text):
            matches = sorted(Path(p) for p in glob.glob(text, recursive=True) if wanted(Path(p)))
            if not matches:
                raise TagInputError(f"{text}: no {kinds} matches")
        else:
            raise TagInputError(f"{text}: no such file or folder")
        found.extend(matches)
    seen: set[Path] = set()
    unique = []
    for p in found:
        key = p.resolve()
        if key not in seen:
            seen.add(key)
            unique.append(p)
    return unique


def result_name(video: str | os.PathLike) -> str:
    """``<stem>.<8 hex of the absolute path>.json``: stable and unique per video."""
    path = Path(video).resolve()
    digest = hashlib.sha1(str(path).encode("utf-8")).hexdigest()[:8]
    return f"{path.stem}.{digest}.json"
