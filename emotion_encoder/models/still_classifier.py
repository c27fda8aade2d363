"""The 2D twin of a preset's backbone with a softmax head: the network stage 1 trains.

The twin shares every layer name with the 3D backbone, so its weights inflate into the
video network afterwards (:mod:`emotion_encoder.training.inflate`). Keras only: it builds
on any Keras backend (TensorFlow here, JAX on a GPU machine, :mod:`~emotion_encoder.training.soup`).

>>> build_still_classifier("fast", 7).output.shape
(None, 7)
>>> build_still_classifier("default", 7, width=48).get_layer("stage4_block1_conv1").filters
384
"""

from __future__ import annotations

from emotion_encoder import _runtime  # noqa: F401  (oneDNN before TF)
import keras

from emotion_encoder.models.presets import PRESETS
from emotion_encoder.models.resnet3d_backbone import ResNet3DBackbone


def build_still_classifier(preset: str, num_classes: int, image_size: int | None = None,
                           width: int | None = None, style_mixing: float = 0.0) -> keras.Model:
    """The preset's backbone with ``dims=2`` plus pooling and a softmax head, on
    ``image_size`` px stills (default the preset's; the weights fit any side); ``width``
    scales the stem and the stages' widths to ``width * (1, 2, 4, 8)`` (default the
    preset's: 32 for ``default``); ``style_mixing`` > 0 mixes the faces' feature statistics
    in training (:class:`~emotion_encoder.models.style_mixing.StyleMixing`; the same
    weights)."""
    config = dict(PRESETS[preset]["backbone"], dims=2, style_mixing=float(style_mixing))
    if image_size is not None:
        config["image_size"] = int(image_size)
    if width is not None:
        scale = int(width) / config["stem_filters"]
        config["stackwise_num_filters"] = [round(f * scale)
                                           for f in config["stackwise_num_filters"]]
        config["stem_filters"] = int(width)
    backbone = ResNet3DBackbone(**config, name="backbone")
    x = keras.layers.GlobalAveragePooling2D()(backbone.output)
    x = keras.layers.Dropout(0.3)(x)
    probs = keras.layers.Dense(num_classes, activation="softmax", name="probs")(x)
    return keras.Model(backbone.input, probs, name=f"{preset}_stills")
