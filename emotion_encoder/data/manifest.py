"""A generic manifest CSV: ``path,label[,subject,start,end]`` (a header row is required).

``path`` is relative to the CSV's folder and names a video, an image, or a folder of frames
(read in natural order); ``start``/``end`` (seconds, optional, may be blank) cut a video.
Extra columns are ignored. This covers DFEW, V2C-Animation and user-labelled clips.

>>> v2c = load_manifest("v2c/train.csv", others="drop")    # doctest: +SKIP
>>> v2c[0].video, v2c[0].start, v2c[0].end                 # doctest: +SKIP
(PosixPath('v2c/clips/Frozen_00_0012.mp4'), None, None)
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Unpack

from emotion_encoder.data.dataset import Dataset, LabelOptions, Sample, make_dataset
from emotion_encoder.data.files import IMAGE_SUFFIXES, VIDEO_SUFFIXES, image_frames, read_csv
from emotion_encoder.errors import DatasetError
from emotion_encoder.labels import normalize_label

MANIFEST_COLUMNS = ("path", "label")
"""The required columns; ``subject`` (needed for subject-independent folds), ``start`` and
``end`` are optional."""


def _seconds(row: dict[str, str], column: str) -> float | None:
    """``row[column]`` as finite seconds, None if absent or blank; raises ValueError."""
    text = row.get(column, "")
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise ValueError(f"{column} {text!r} is not a time in seconds")
    return value


def _media(path: Path) -> dict:
    """``video=`` or ``frames=`` for a video file, an image, or a folder of frames."""
    if path.is_dir():
        return {"frames": image_frames(path)}
    if path.suffix.lower() in VIDEO_SUFFIXES:
        return {"video": path}
    if path.suffix.lower() in IMAGE_SUFFIXES:
        return {"frames": (path,)}
    raise ValueError("not a video, an image or a folder of images")


def load_manifest(csv_path: str | os.PathLike, name: str | None = None,
                  **options: Unpack[LabelOptions]) -> Dataset:
    """One sample per row; ``name`` defaults to the CSV's folder name; blank or absent
    subjects are None."""
    csv_path = Path(csv_path)
    folder, name = csv_path.parent, name or csv_path.resolve().parent.name
    samples = []
    for line, row in read_csv(csv_path, MANIFEST_COLUMNS):
        if not row["path"] or not row["label"]:
            raise DatasetError(csv_path, "empty path or label", line)
        path = folder / row["path"]
        if not path.exists():
            raise DatasetError(csv_path, f"{row['path']}: file not found", line)
        try:
            samples.append(Sample(label=normalize_label(row["label"]), dataset=name,
                                  subject=row.get("subject") or None, sequence=row["path"],
                                  start=_seconds(row, "start"), end=_seconds(row, "end"),
                                  **_media(path)))
        except ValueError as error:
            raise DatasetError(csv_path, f"{row['path']}: {error}", line) from None
    if not samples:
        raise DatasetError(csv_path, "no rows after the header")
    return make_dataset(name, csv_path, samples, **options)
