"""What both network backends share: face-crop clips in, preprocessed, through ``forward``
(:class:`~emotion_encoder.clip_classifier.ClipClassifier` on Keras,
:class:`~emotion_encoder.litert_classifier.LiteRTClassifier` on LiteRT). No TensorFlow.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np


class ClipStage:
    """``__call__`` on clips of RGB crops; a subclass sets ``preprocessor``, ``labels``,
    ``embedding_dim``, ``attention_steps`` and defines ``forward(batch)``.
    ``clips_per_call``: the fewest clips per call that keep the backend busy."""

    clips_per_call = 1

    def __call__(self, clips: Sequence[Sequence[np.ndarray]]) -> dict[str, np.ndarray]:
        """``probs (n, labels)``, ``embedding (n, d)``, ``attention (n, steps)`` of ``n``
        clips, each ``window`` RGB uint8 face crops (any size: the preprocessor resizes)."""
        if not len(clips):
            return {"probs": np.zeros((0, len(self.labels)), np.float32),
                    "embedding": np.zeros((0, self.embedding_dim), np.float32),
                    "attention": np.zeros((0, self.attention_steps), np.float32)}
        return self.forward(np.stack([self.preprocessor(np.stack(clip)) for clip in clips]))
