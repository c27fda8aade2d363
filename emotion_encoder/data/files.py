"""File helpers shared by the loaders: suffixes, natural frame order, class folders, CSVs.

>>> sorted(["f10.png", "f9.png", "f100.png"], key=natural_key)
['f9.png', 'f10.png', 'f100.png']
"""

from __future__ import annotations

import codecs
import csv
import io
import os
import re
from collections.abc import Sequence
from pathlib import Path

from emotion_encoder.errors import DatasetError
from emotion_encoder.media import IMAGE_SUFFIXES, VIDEO_SUFFIXES

__all__ = ["IMAGE_SUFFIXES", "VIDEO_SUFFIXES", "class_folders", "existing_dir", "files_under",
           "image_frames",
           "natural_key", "read_csv"]


def natural_key(name: str | os.PathLike) -> tuple:
    """Sort key that orders embedded numbers by value (``f9`` before ``f10``)."""
    parts = re.split(r"(\d+)", os.fspath(name))
    return tuple(int(p) if p.isdigit() else p for p in parts)


def files_under(root: Path, suffixes: Sequence[str] | frozenset[str]) -> list[Path]:
    """Every file under ``root`` (any depth) with one of ``suffixes`` (lower case), in
    natural order of the path."""
    return sorted((p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in suffixes),
                  key=lambda p: natural_key(str(p)))


def existing_dir(path: str | os.PathLike) -> Path:
    """``path`` as a Path, or a :class:`DatasetError` if it is not a folder."""
    path = Path(path)
    if not path.is_dir():
        raise DatasetError(path, "folder not found")
    return path


def image_frames(folder: Path) -> tuple[Path, ...]:
    """The images in ``folder`` in natural (temporal) order; raises if there are none."""
    frames = sorted((p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES),
                    key=lambda p: natural_key(p.name))
    if not frames:
        raise DatasetError(folder, "no images (" + ", ".join(sorted(IMAGE_SUFFIXES)) + ") in this folder")
    return tuple(frames)


def class_folders(root: str | os.PathLike) -> list[Path]:
    """The sub-folders of ``root`` (one per class), sorted by name."""
    return sorted(p for p in existing_dir(root).iterdir() if p.is_dir())


def read_csv(path: str | os.PathLike,
             required: Sequence[str]) -> list[tuple[int, dict[str, str]]]:
    """``(line number, row)`` pairs of a CSV with a header; column names are lower-cased,
    values stripped, and a missing ``required`` column raises."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(path, "file not found")
    data = path.read_bytes()
    encoding = "utf-16" if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) \
        else "utf-8-sig"
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as e:
        raise DatasetError(path, f"not UTF-8 or UTF-16 text (bad byte at offset {e.start}); "
                                 "re-save it as UTF-8") from None
    reader = csv.DictReader(io.StringIO(text, newline=""))
    try:
        header = [name.strip().lower() for name in reader.fieldnames or []]
        if not header:
            raise DatasetError(path, f"empty file (expected a header {','.join(required)})")
        missing = [name for name in required if name not in header]
        if missing:
            raise DatasetError(path, f"missing column(s) {', '.join(missing)}; the header is "
                                     f"{','.join(header)!r}, expected {','.join(required)}",
                               line=1)
        reader.fieldnames = header
        return [(reader.line_num, {k: (v if isinstance(v, str) else "").strip()
                                   for k, v in row.items() if k})
                for row in reader]
    except csv.Error as e:
        raise DatasetError(path, f"not a readable CSV ({e})", line=reader.line_num) from None
