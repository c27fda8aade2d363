"""Network parts: backbone, temporal modules, classifier task, preprocessor, presets."""

from emotion_encoder import _runtime  # noqa: F401  (oneDNN on before TensorFlow loads)
from emotion_encoder.models.emotion_classifier import EmotionClassifier
from emotion_encoder.models.preprocessor import FacePreprocessor
from emotion_encoder.models.presets import PRESETS
from emotion_encoder.models.resnet3d_backbone import ResNet3DBackbone
from emotion_encoder.models.temporal_transformer import TemporalTransformer

__all__ = ["EmotionClassifier", "FacePreprocessor", "PRESETS", "ResNet3DBackbone",
           "TemporalTransformer"]
