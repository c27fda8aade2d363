"""Emotion encoder for visual voice cloning (V2C): faces in, emotions and embeddings out.

>>> from emotion_encoder import EmotionEncoder
>>> enc = EmotionEncoder()                      # doctest: +SKIP  (the "default" preset)
>>> enc.predict("clip.mp4").video_label         # doctest: +SKIP
'happiness'

Importing this package is light (numpy only): the network, TensorFlow and MediaPipe load
on first use of :class:`EmotionEncoder`; the modules that load TensorFlow turn on its
oneDNN first (unless ``TF_ENABLE_ONEDNN_OPTS`` is already set, see ``_runtime``).
"""

from __future__ import annotations

from emotion_encoder.errors import EmotionEncoderError, ModelFileError, PresetError, VideoError
from emotion_encoder.labels import CANONICAL_LABELS, normalize_label
from emotion_encoder.timeline import EmotionTrack, SlidingWindow
from emotion_encoder.timing import Segment

__version__ = "0.1.0"

__all__ = ["CANONICAL_LABELS", "EmotionEncoder", "EmotionEncoderError", "EmotionTrack",
           "ModelFileError", "PresetError", "Segment", "SlidingWindow", "VideoError",
           "normalize_label", "__version__"]


def __getattr__(name: str):
    if name == "EmotionEncoder":
        from emotion_encoder.encoder import EmotionEncoder

        return EmotionEncoder
    raise AttributeError(f"module 'emotion_encoder' has no attribute {name!r}")
