"""The rule that keeps an epoch (or a weight average) of stage 1: the mean, over the still
sets of the mixture, of each set's balanced accuracy on its validation people, never
FER2013 validation alone.

>>> balanced_accuracy(np.array([0, 0, 0, 1]), np.array([0, 0, 0, 0]))
0.5
>>> source_scores(np.array([0, 1, 2, 2]), np.array([0, 1, 2, 0]), np.array([0, 0, 1, 1]),
...               ["a", "b"])
{'a': 1.0, 'b': 0.5, 'mean_balanced': 0.75}
"""

from __future__ import annotations

import numpy as np


def balanced_accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Mean recall over the classes present in ``y_true``."""
    classes = np.unique(y_true)
    return float(np.mean([np.mean(y_pred[y_true == c] == c) for c in classes]))


def source_scores(y_true: np.ndarray, y_pred: np.ndarray, source: np.ndarray,
                  names: list[str]) -> dict[str, float]:
    """Balanced accuracy per source (index ``i`` of ``source`` is ``names[i]``; sources with
    no validation face are left out) and their mean, ``mean_balanced``."""
    scores = {name: balanced_accuracy(y_true[source == i], y_pred[source == i])
              for i, name in enumerate(names) if np.any(source == i)}
    return {**scores, "mean_balanced": float(np.mean(list(scores.values())))}
