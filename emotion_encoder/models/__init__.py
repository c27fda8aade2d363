"""Network parts: backbone, temporal modules, classifier task, preprocessor, presets.

The Keras parts load on first use (``emotion_encoder.models.EmotionClassifier``), so that
``emotion_encoder.models.presets`` (names, configurations, weight files) needs no
TensorFlow; importing this package turns oneDNN on first (``_runtime``: environment only).
"""

from __future__ import annotations

import importlib

from emotion_encoder import _runtime  # noqa: F401  (oneDNN on before any Keras part loads)
from emotion_encoder.models.presets import PRESETS

_LAZY = {"EmotionClassifier": "emotion_classifier", "FacePreprocessor": "preprocessor",
         "ResNet3DBackbone": "resnet3d_backbone", "TemporalTransformer": "temporal_transformer"}

__all__ = ["EmotionClassifier", "FacePreprocessor", "PRESETS", "ResNet3DBackbone",
           "TemporalTransformer"]


def __getattr__(name: str):
    if name in _LAZY:
        module = importlib.import_module(f"emotion_encoder.models.{_LAZY[name]}")
        return getattr(module, name)
    raise AttributeError(f"module 'emotion_encoder.models' has no attribute {name!r}")
