"""The CK+ reference-face benchmark (``benchmarks/ckplus_reference.py``): a subject's
neutral face as reference, and the per-fold regression that measures it."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import ckplus_reference  # noqa: E402


def test_subject_reference_averages_each_subjects_neutral_faces_only():
    neutral = np.array([[1.0, 0.0], [3.0, 2.0], [100.0, 100.0], [5.0, 5.0]])
    has = np.array([True, True, False, True])
    apex = np.array([[0.0, 0.0], [0.0, 0.0], [7.0, 9.0], [0.0, 0.0]])
    subjects = np.array(["S1", "S1", "S2", "S3"])
    reference = ckplus_reference.subject_reference(neutral, has, apex, subjects)
    np.testing.assert_allclose(reference, [[2, 1], [2, 1], [7, 9], [5, 5]])


def test_the_reference_recovers_a_class_hidden_under_each_subjects_own_face():
    """Each subject's face is a large random offset; the class is a small shift from it. Apex
    features alone cannot generalise to new subjects; apex minus the subject's neutral can."""
    rng = np.random.default_rng(0)
    subjects, classes, dims = 30, 3, 8
    directions = np.eye(dims)[:classes]
    identity = rng.normal(0, 3.0, (subjects, dims))
    y = np.tile(np.arange(classes), subjects)
    who = np.repeat(np.arange(subjects), classes)
    apex = identity[who] + directions[y] + rng.normal(0, 0.1, (len(y), dims))
    neutral = identity[who] + rng.normal(0, 0.1, (len(y), dims))
    reference = ckplus_reference.subject_reference(neutral, np.ones(len(y), bool), apex,
                                                   who.astype(str))
    folds = [(np.flatnonzero(who % 3 != k), np.flatnonzero(who % 3 == k)) for k in range(3)]
    alone = np.mean(ckplus_reference.fold_accuracies(apex, y, folds, classes, epochs=100))
    both = np.mean(ckplus_reference.fold_accuracies(
        np.concatenate([apex, apex - reference], 1), y, folds, classes, epochs=100))
    assert both > 0.95 and alone < 0.7
