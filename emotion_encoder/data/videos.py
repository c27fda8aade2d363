"""Folders of labelled clips and stills: ``root/<class>/<clip>.(mp4|avi|mkv|webm|mov|...)``,
``root/<class>/<still>.(jpg|png|bmp|tif|tiff|webp)`` (one sample per image: KDEF, RaFD,
RAF-DB or AffectNet sorted by class) and ``root/<class>/<clip>/`` folders of frames.

Subjects are unknown unless ``subject_from`` (a regular expression searched in the file
name) says where they are: its group ``subject``, else its first group, else the match.

>>> crema = load_video_folder("CREMA-D-by-class", subject_from=r"^(\\d+)_")  # doctest: +SKIP
>>> crema[0].subject                                                        # doctest: +SKIP
'1001'
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Unpack

from emotion_encoder.data.dataset import Dataset, LabelOptions, Sample, make_dataset
from emotion_encoder.data.files import (IMAGE_SUFFIXES, VIDEO_SUFFIXES, class_folders,
                                        existing_dir, image_frames, natural_key)
from emotion_encoder.errors import DatasetError
from emotion_encoder.labels import normalize_label


def _subject(pattern: re.Pattern | None, clip: Path) -> str | None:
    """The subject id that ``pattern`` finds in the clip's file name (None without one)."""
    if pattern is None:
        return None
    match = pattern.search(clip.name)
    if match is None:
        raise DatasetError(clip, f"subject_from '{pattern.pattern}' does not match the file name")
    if "subject" in pattern.groupindex:
        subject = match.group("subject")
    else:
        subject = match.group(1) if pattern.groups else match.group(0)
    if not subject:
        raise DatasetError(clip, f"subject_from '{pattern.pattern}' matched an empty subject")
    return subject


def load_video_folder(root: str | os.PathLike, subject_from: str | None = None,
                      name: str | None = None, **options: Unpack[LabelOptions]) -> Dataset:
    """Each clip, still or folder of frames as one whole sample labelled by its class
    folder; ``name`` defaults to the root folder's name. Other files are ignored."""
    root = existing_dir(root)
    name = name or root.name
    pattern = None if subject_from is None else re.compile(subject_from)
    samples = []
    for class_dir in class_folders(root):
        for item in sorted(class_dir.iterdir(), key=lambda p: natural_key(p.name)):
            suffix = item.suffix.lower()
            if item.is_file() and suffix in VIDEO_SUFFIXES:
                media = {"video": item}
            elif item.is_file() and suffix in IMAGE_SUFFIXES:
                media = {"frames": (item,)}
            elif item.is_dir() and any(p.suffix.lower() in IMAGE_SUFFIXES
                                       for p in item.iterdir()):
                media = {"frames": image_frames(item)}
            else:
                continue
            samples.append(Sample(label=normalize_label(class_dir.name), dataset=name,
                                  subject=_subject(pattern, item), sequence=item.stem,
                                  **media))
    if not samples:
        raise DatasetError(root, "no video clips, images or folders of frames in <class>/ "
                                 "folders (videos: " + ", ".join(sorted(VIDEO_SUFFIXES))
                           + "; images: " + ", ".join(sorted(IMAGE_SUFFIXES)) + ")")
    return make_dataset(name, root, samples, **options)
