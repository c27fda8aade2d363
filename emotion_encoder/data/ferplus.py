"""FER+ (Barsoum et al. 2016): ten annotators' votes for every FER2013 face.

``votes.csv`` has one row per FER2013 file (``path`` relative to the FER2013 folder) and a
vote count per FER+ class (:data:`FERPLUS_CLASSES`); rows without votes are blank. Two uses:

* soft labels for training, the vote distribution over the seven canonical labels
  (:func:`soft_labels`);
* the FER+ test protocol, the majority label (contempt as an eighth class), faces whose
  majority is "unknown" or "not a face", or a tie, left out (:func:`load_ferplus`).

>>> votes = np.array([[6, 0, 0, 0, 3, 1, 0, 0, 0, 0]])
>>> [round(float(v), 2) for v in soft_labels(votes)[0]]
[0.3, 0.1, 0.0, 0.0, 0.0, 0.0, 0.6]
>>> majority_labels(votes)
['neutral']
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal, Unpack

import numpy as np

from emotion_encoder.data.dataset import Dataset, LabelOptions, Sample, make_dataset
from emotion_encoder.data.files import read_csv
from emotion_encoder.errors import DatasetError
from emotion_encoder.labels import CANONICAL_LABELS

FERPLUS_CLASSES: tuple[str, ...] = ("neutral", "happiness", "surprise", "sadness", "anger",
                                    "disgust", "fear", "contempt", "unknown", "NF")
"""The vote columns of ``votes.csv``, in its order (NF: not a face)."""

_TO_CANONICAL = [FERPLUS_CLASSES.index(label) for label in CANONICAL_LABELS]


def read_votes(csv_path: str | os.PathLike) -> dict[str, np.ndarray]:
    """``{path relative to the FER2013 folder: votes (10,)}`` for every row with votes."""
    rows = read_csv(csv_path, ("path",) + tuple(name.lower() for name in FERPLUS_CLASSES))
    votes = {}
    for line, row in rows:
        cells = [row[name.lower()] for name in FERPLUS_CLASSES]
        if not any(cells):
            continue
        try:
            votes[row["path"]] = np.array([float(c or 0) for c in cells], np.float32)
        except ValueError:
            raise DatasetError(csv_path, f"{row['path']}: vote counts must be numbers",
                               line) from None
    if not votes:
        raise DatasetError(csv_path, "no row has votes")
    return votes


def soft_labels(votes: np.ndarray) -> np.ndarray:
    """Vote distributions ``(n, 7)`` over :data:`CANONICAL_LABELS` (contempt, unknown and
    not-a-face votes left out); rows with none of the seven get all zeros."""
    emotions = np.asarray(votes, np.float32)[:, _TO_CANONICAL]
    total = emotions.sum(axis=1, keepdims=True)
    return np.divide(emotions, total, out=np.zeros_like(emotions), where=total > 0)


def majority_labels(votes: np.ndarray) -> list[str | None]:
    """The FER+ majority label of each row (eight emotions), None for a tie or a majority of
    "unknown" / "not a face"."""
    out = []
    for row in np.asarray(votes):
        top = np.flatnonzero(row == row.max())
        label = FERPLUS_CLASSES[top[0]]
        out.append(None if len(top) > 1 or label in ("unknown", "NF") else label)
    return out


def fer2013_root(csv_path: Path) -> Path:
    """The FER2013 folder that ``votes.csv``'s paths are relative to: ``../fer2013`` beside
    the ``ferplus`` folder."""
    root = csv_path.resolve().parent.parent / "fer2013"
    if not root.is_dir():
        raise DatasetError(csv_path, f"FER2013 folder {root} not found (the votes' paths are "
                                     "relative to it)")
    return root


def load_ferplus(csv_path: str | os.PathLike,
                 split: Literal["train", "validation", "test"] = "test",
                 **options: Unpack[LabelOptions]) -> Dataset:
    """One FER2013 split with FER+ majority labels (the FER+ test protocol).

    >>> ds = load_ferplus("../shared/data/ferplus/votes.csv", contempt="drop")  # doctest: +SKIP
    """
    csv_path = Path(csv_path)
    root = fer2013_root(csv_path)
    votes = {path: v for path, v in read_votes(csv_path).items()
             if path.split("/", 1)[0] == split}
    if not votes:
        raise DatasetError(csv_path, f"no voted rows in the {split!r} split")
    samples = [Sample(label=label, dataset="ferplus", frames=(root / path,))
               for path, label in zip(votes, majority_labels(np.stack(list(votes.values()))))
               if label is not None]
    return make_dataset("ferplus", csv_path, samples, **options)


def is_votes_csv(path: Path) -> bool:
    """Whether ``path`` is a FER+ ``votes.csv`` (its header has the vote columns)."""
    if path.suffix.lower() != ".csv" or not path.is_file():
        return False
    with open(path, encoding="utf-8-sig") as handle:
        header = [name.strip().lower() for name in handle.readline().split(",")]
    return all(name.lower() in header for name in FERPLUS_CLASSES)
