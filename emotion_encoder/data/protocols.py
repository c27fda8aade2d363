"""Evaluation protocols: subject-independent k-fold CV, Oulu-CASIA's 10 folds, FER2013 splits.

>>> folds = subject_kfold(load_ckplus_cutdown("../shared/data/ckplus"), k=10)  # doctest: +SKIP
>>> summarize_folds([0.5, 1.0, 0.75])
CVSummary(mean=0.75, std=0.25, folds=3)
>>> subject_part("Aaron_Eckhart"), subject_part("AJ_Cook")
('test', 'train')
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from typing import NamedTuple, Unpack

import numpy as np

from emotion_encoder.data.dataset import Dataset, LabelOptions
from emotion_encoder.data.fer2013 import load_fer2013
from emotion_encoder.errors import DatasetError

Fold = tuple[np.ndarray, np.ndarray]
"""``(train_indices, test_indices)`` into a dataset, both sorted int64 arrays."""


class CVSummary(NamedTuple):
    """Mean and sample standard deviation of per-fold accuracies."""

    mean: float
    std: float
    folds: int


class Fer2013Splits(NamedTuple):
    """FER2013's canonical split: tune on ``validation``, report on ``test`` only."""

    train: Dataset
    validation: Dataset
    test: Dataset


def subject_kfold(dataset: Dataset, k: int = 10, seed: int = 0) -> list[Fold]:
    """``k`` subject-independent folds: every sample is tested exactly once, and no subject
    is in both the train and test part of a fold.

    Subjects, shuffled by ``seed`` and then sorted by sample count (largest first), each go
    to the fold with the fewest samples so far, so fold sizes differ by at most the largest
    subject's sample count.
    """
    if k < 2:
        raise ValueError(f"k={k}: cross-validation needs at least 2 folds")
    groups: dict[str, list[int]] = {}
    for index, sample in enumerate(dataset):
        if sample.subject is None:
            raise DatasetError(dataset.name, "subject-independent cross-validation needs subject"
                                             f" ids, and sample {index} has none")
        groups.setdefault(sample.subject, []).append(index)
    if len(groups) < k:
        raise DatasetError(dataset.name, f"{k} subject-independent folds need at least {k} "
                                         f"subjects, found {len(groups)}")
    subjects = sorted(groups)
    shuffled = [subjects[i] for i in np.random.default_rng(seed).permutation(len(subjects))]
    shuffled.sort(key=lambda subject: len(groups[subject]), reverse=True)
    tests: list[list[int]] = [[] for _ in range(k)]
    for subject in shuffled:
        smallest = min(range(k), key=lambda fold: len(tests[fold]))
        tests[smallest] += groups[subject]
    everything = np.arange(len(dataset), dtype=np.int64)
    return [(np.setdiff1d(everything, test), np.sort(np.asarray(test, dtype=np.int64)))
            for test in tests]


SUBJECT_PARTS = {"train": 0.7, "validation": 0.1, "test": 0.2}
"""Fractions of subjects in each part of :func:`subject_split`."""


def subject_part(subject: str) -> str:
    """The part (train, validation, test) that :func:`subject_split` gives ``subject``.

    It depends on the name alone (a hash), so the parts of a set stay the same when
    samples are added, removed or reordered, and on every machine.
    """
    point = int(hashlib.sha1(subject.encode("utf-8")).hexdigest()[:8], 16) / 16**8
    edge = 0.0
    for part, fraction in SUBJECT_PARTS.items():
        edge += fraction
        if point < edge:
            return part
    return part


def subject_split(dataset: Dataset, part: str) -> Dataset:
    """The samples of ``dataset`` whose subject falls in ``part`` (70/10/20% of subjects
    in train/validation/test): identity-disjoint, e.g. LFW's held-out people.

    A sample without a subject counts as a person of its own (its sequence or file name).
    """
    if part not in SUBJECT_PARTS:
        raise ValueError(f"part={part!r}: expected one of {tuple(SUBJECT_PARTS)}")

    def identity(sample) -> str:
        return sample.subject or sample.sequence or str(sample.video or sample.frames[0])

    return dataset.filter(lambda s: subject_part(identity(s)) == part)


def oulu_casia_folds(dataset: Dataset, seed: int = 0) -> list[Fold]:
    """The Oulu-CASIA paper protocol: 10 subject-independent folds; report the mean
    accuracy over them with :func:`summarize_folds`."""
    return subject_kfold(dataset, k=10, seed=seed)


def summarize_folds(accuracies: Sequence[float]) -> CVSummary:
    """Mean and sample standard deviation (0 for one fold) of accuracies in [0, 1]."""
    values = np.asarray(accuracies, dtype=np.float64)
    if values.ndim != 1 or values.size == 0:
        raise ValueError("expected a non-empty list of per-fold accuracies")
    if np.any((values < 0) | (values > 1)) or not np.all(np.isfinite(values)):
        raise ValueError(f"accuracies must lie in [0, 1], got {values.tolist()}")
    std = float(values.std(ddof=1)) if values.size > 1 else 0.0
    return CVSummary(float(values.mean()), std, int(values.size))


def fer2013_splits(root: str | os.PathLike, **options: Unpack[LabelOptions]) -> Fer2013Splits:
    """The train/validation/test datasets of ``root/{train,validation,test}/``."""
    return Fer2013Splits(*(load_fer2013(root, split, **options)
                           for split in Fer2013Splits._fields))
