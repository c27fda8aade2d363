"""Build a preset's network, load its shipped weights, or load a saved ``.keras`` model.

>>> loaded = load_encoder_model("fast", weights=False)
>>> loaded.weights_trained, loaded.preset, loaded.model.labels[:2]
(False, 'fast', ('anger', 'disgust'))
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path

from emotion_encoder import _runtime  # noqa: F401  (oneDNN before TF)
import keras

from emotion_encoder.errors import PresetError
from emotion_encoder.models.emotion_classifier import EmotionClassifier
from emotion_encoder.models.preprocessor import FacePreprocessor
from emotion_encoder.models.presets import preset_config as _preset, weights_path
from emotion_encoder.models.resnet3d_backbone import ResNet3DBackbone
from emotion_encoder.results import UNTRAINED_WARNING


@dataclass
class LoadedModel:
    """A network with the preprocessor that feeds it and where its weights came from."""

    model: EmotionClassifier
    preprocessor: FacePreprocessor
    preset: str
    weights_trained: bool


def build_model(preset: str, **overrides) -> EmotionClassifier:
    """A fresh, randomly initialised network for ``preset``; ``overrides`` go to the head
    (e.g. ``use_convlstm=False``) or, prefixed ``backbone_``, to the backbone."""
    config = _preset(preset)
    backbone_config = dict(config["backbone"])
    head_config = dict(config["classifier"])
    for key, value in overrides.items():
        if key.startswith("backbone_"):
            backbone_config[key[len("backbone_"):]] = value
        else:
            head_config[key] = value
    backbone = ResNet3DBackbone(**backbone_config, name="backbone")
    return EmotionClassifier(backbone, **head_config,
                             preprocessor=FacePreprocessor(**config["preprocessor"]),
                             name=f"emotion_encoder_{preset}")


def load_encoder_model(preset: str | os.PathLike = "default", weights: bool = True) -> LoadedModel:
    """Load a named preset (with its shipped weights when they exist) or a ``.keras`` file.

    A preset without trained weights loads with random weights, a loud warning, and
    ``weights_trained=False``, which every result then carries.
    """
    if str(preset).endswith(".keras"):
        return _load_keras_file(Path(preset))
    model = build_model(str(preset))
    path = weights_path(str(preset)) if weights else None
    if path is not None:
        model.load_weights(path)
    else:
        warnings.warn(f"preset {str(preset)!r}: {UNTRAINED_WARNING}", UserWarning, stacklevel=3)
    return LoadedModel(model, model.preprocessor, str(preset), path is not None)


def _load_keras_file(path: Path) -> LoadedModel:
    if not path.is_file():
        raise PresetError(f"{path}: model file not found")
    try:
        model = keras.saving.load_model(path)
    except Exception as exc:  # keras raises many types for a bad file
        raise PresetError(f"{path}: not a loadable emotion encoder model ({exc})") from None
    if not isinstance(model, EmotionClassifier):
        raise PresetError(f"{path}: holds a {type(model).__name__}, not an EmotionClassifier")
    return LoadedModel(model, model.preprocessor, path.name, True)

