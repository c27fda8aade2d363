"""Losses for imbalanced emotion data: logit adjustment (Menon et al. 2021) and class
weights.

Disgust and fear are a few percent of every in-the-wild set; a network trained with plain
cross-entropy learns that prior and rarely says them. The logit-adjusted loss trains on
``log p + tau * log prior``, so the network's own ``p`` ranks classes as if they were
balanced. Class weights (``class_weighted``) are the older remedy: each class's term of
the cross-entropy weighs ``1 / (k prior)``, so every class carries the same share of the
loss over the training set.

>>> mixture_prior(np.array([[1.0, 0.0], [0.5, 0.5]]), floor=0.0).tolist()
[0.75, 0.25]
"""

from __future__ import annotations

import numpy as np

from emotion_encoder import _runtime  # noqa: F401  (oneDNN before TF)
import keras
from keras import ops


@keras.saving.register_keras_serializable(package="emotion_encoder")
class LogitAdjustedLoss(keras.losses.Loss):
    """Cross-entropy of ``softmax(log p + tau * log prior)`` against (soft) targets.

    ``p`` is the model's softmax output; the prior's shift is for training only, so the
    trained model's own ``p`` is balanced across classes. ``class_weighted`` weighs each
    class's term by ``1 / (k prior)`` (1 on average over the training set).
    """

    def __init__(self, prior, tau: float = 1.0, label_smoothing: float = 0.1,
                 class_weighted: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.prior = [float(v) for v in prior]
        self.tau = float(tau)
        self.label_smoothing = float(label_smoothing)
        self.class_weighted = bool(class_weighted)
        prior = np.asarray(self.prior)
        self._shift = ops.convert_to_tensor(self.tau * np.log(prior), "float32")
        self._weights = ops.convert_to_tensor(
            1.0 / (len(prior) * prior) if self.class_weighted else np.ones(len(prior)),
            "float32")

    def call(self, y_true, y_pred):
        logits = ops.log(ops.clip(y_pred, 1e-7, 1.0)) + self._shift
        k = len(self.prior)
        y = ops.cast(y_true, "float32") * (1.0 - self.label_smoothing) + self.label_smoothing / k
        return -ops.sum(self._weights * y * ops.log_softmax(logits, axis=-1), axis=-1)

    def get_config(self) -> dict:
        return {**super().get_config(), "prior": self.prior, "tau": self.tau,
                "label_smoothing": self.label_smoothing,
                "class_weighted": self.class_weighted}


def mixture_prior(targets: np.ndarray, floor: float = 1e-3) -> np.ndarray:
    """The class frequencies of (soft) ``targets``, at least ``floor``, summing to one."""
    prior = np.maximum(np.asarray(targets, np.float64).mean(axis=0), floor)
    return prior / prior.sum()
