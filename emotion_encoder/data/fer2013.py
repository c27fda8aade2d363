"""FER2013 in its folder layout ``root/{train,validation,test}/<class>/*.jpg``.

>>> test = load_fer2013("../shared/data/fer2013", "test")   # doctest: +SKIP
>>> len(test), test.counts()["happiness"]                   # doctest: +SKIP
(3589, 879)
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal, Unpack

import numpy as np
from PIL import Image

from emotion_encoder.data.dataset import Dataset, LabelOptions, Sample, make_dataset
from emotion_encoder.data.files import IMAGE_SUFFIXES, class_folders, existing_dir
from emotion_encoder.errors import DatasetError
from emotion_encoder.labels import CANONICAL_LABELS, normalize_label

FER2013_SPLITS = ("train", "validation", "test")
"""The canonical split folders: Training, PublicTest and PrivateTest of the original CSV."""


def load_fer2013(root: str | os.PathLike,
                 split: Literal["train", "validation", "test"] = "train",
                 **options: Unpack[LabelOptions]) -> Dataset:
    """One split as single-frame samples; class folder names (angry, happy, ...) are
    normalised to canonical labels."""
    if split not in FER2013_SPLITS:
        raise ValueError(f"split={split!r}: expected one of {FER2013_SPLITS}")
    folder = existing_dir(root) / split
    samples = [Sample(label=normalize_label(class_dir.name), dataset="fer2013", frames=(path,))
               for class_dir in class_folders(folder)
               for path in sorted(class_dir.iterdir()) if path.suffix.lower() in IMAGE_SUFFIXES]
    if not samples:
        raise DatasetError(folder, "no images in <class>/ folders")
    return make_dataset("fer2013", folder, samples, **options)


def load_image_folder(root: str | os.PathLike, size: int = 48,
                      labels: tuple[str, ...] = CANONICAL_LABELS) -> tuple[np.ndarray, np.ndarray]:
    """Read ``root/<class>/*.jpg`` as grey ``(N, size, size, 1)`` uint8 and label indices.

    Class folder names go through :func:`normalize_label`; classes outside ``labels`` are
    skipped.

    >>> x, y = load_image_folder("../shared/data/fer2013/validation")  # doctest: +SKIP
    """
    files = image_folder_files(root, labels)
    return read_grey([path for path, _ in files], size), \
        np.asarray([label for _, label in files], dtype=np.int32)


def image_folder_files(root: str | os.PathLike, labels: tuple[str, ...] = CANONICAL_LABELS
                       ) -> list[tuple[Path, int]]:
    """``(image path, label index)`` of ``root/<class>/*``, classes in name order, files
    sorted; classes outside ``labels`` are skipped, and a folder without images raises."""
    files = []
    for class_dir in class_folders(root):
        label = normalize_label(class_dir.name)
        if label in labels:
            files += [(path, labels.index(label)) for path in sorted(class_dir.iterdir())
                      if path.suffix.lower() in IMAGE_SUFFIXES]
    if not files:
        raise DatasetError(root, "no images in <class>/ folders")
    return files


def read_grey(paths: list[Path], size: int = 48) -> np.ndarray:
    """The images at ``paths`` as grey ``(n, size, size, 1)`` uint8."""
    return np.stack([np.asarray(Image.open(path).convert("L").resize((size, size)), np.uint8)
                     for path in paths])[..., None]
