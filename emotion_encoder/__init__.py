"""Emotion encoder for visual voice cloning (V2C): faces in, emotions and embeddings out.

>>> from emotion_encoder import EmotionEncoder
>>> enc = EmotionEncoder()                      # doctest: +SKIP  (the "default" preset)
>>> enc.predict("clip.mp4").video_label         # doctest: +SKIP
'happiness'

Importing this package turns on TensorFlow's oneDNN (unless ``TF_ENABLE_ONEDNN_OPTS`` is
already set) before TensorFlow loads; heavy modules load on first use.
"""

from __future__ import annotations

from emotion_encoder import _runtime  # noqa: F401  (must run before TensorFlow loads)
from emotion_encoder.errors import EmotionEncoderError, ModelFileError, PresetError, VideoError
from emotion_encoder.labels import CANONICAL_LABELS, normalize_label
from emotion_encoder.timing import Segment

__version__ = "0.1.0"

__all__ = ["CANONICAL_LABELS", "EmotionEncoder", "EmotionEncoderError", "ModelFileError",
           "PresetError", "Segment", "VideoError", "normalize_label", "__version__"]


def __getattr__(name: str):
    if name == "EmotionEncoder":
        from emotion_encoder.encoder import EmotionEncoder

        return EmotionEncoder
    raise AttributeError(f"module 'emotion_encoder' has no attribute {name!r}")
