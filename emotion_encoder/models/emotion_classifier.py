"""The emotion encoder network: R3D backbone + ConvLSTM + Transformer, fused.

Four configurations of the paper's Table 3 come from two switches:

| use_convlstm | use_transformer | network                          |
|--------------|-----------------|----------------------------------|
| False        | False           | backbone + global average pool   |
| True         | False           | backbone + ConvLSTM              |
| False        | True            | backbone + Transformer           |
| True         | True            | backbone + ConvLSTM + Transformer (paper) |

The model maps a batch of clips to a dict: ``probs`` (softmax over ``labels``),
``embedding`` (the fused feature, ``embedding_dim`` wide) and ``attention`` (weights over
the backbone's time steps; uniform when there is no Transformer).

>>> backbone = ResNet3DBackbone(stackwise_num_filters=(8, 16, 32, 64), stem_filters=8,
...                             num_frames=8, image_size=32, channels=1)
>>> model = EmotionClassifier(backbone, embedding_dim=32, convlstm_filters=16,
...                           transformer_dim=16, transformer_mlp_dim=32)
>>> sorted((k, tuple(v.shape)) for k, v in model.output.items())
[('attention', (None, 2)), ('embedding', (None, 32)), ('probs', (None, 7))]
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from emotion_encoder import _runtime  # noqa: F401  (oneDNN before TF)
import keras
from keras import layers, ops

from emotion_encoder.calibration import apply_temperature
from emotion_encoder.labels import CANONICAL_LABELS
from emotion_encoder.models.preprocessor import FacePreprocessor
from emotion_encoder.models.resnet3d_backbone import ResNet3DBackbone
from emotion_encoder.models.temporal_transformer import TemporalTransformer


@keras.saving.register_keras_serializable(package="emotion_encoder")
class UniformAttention(layers.Layer):
    """Equal weight on every time step, for configurations without a Transformer."""

    def call(self, inputs):
        steps = ops.shape(inputs)[1]
        ones = ops.ones_like(inputs[:, :, 0, 0, 0])
        return ones / ops.cast(steps, ones.dtype)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[1])


@keras.saving.register_keras_serializable(package="emotion_encoder")
class SpatialMean(layers.Layer):
    """Average ``(batch, steps, h, w, c)`` feature maps over space -> ``(batch, steps, c)``."""

    def call(self, inputs):
        return ops.mean(inputs, axis=(2, 3))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[1], input_shape[4])


def emotion_head(feature_maps, num_classes: int, use_convlstm: bool = True,
                 use_transformer: bool = True, convlstm_filters: int = 128,
                 transformer_dim: int = 128, transformer_heads: int = 4,
                 transformer_mlp_dim: int = 256, embedding_dim: int = 256,
                 dropout: float = 0.3) -> dict:
    """The layers after the backbone, applied to ``(batch, steps, h, w, c)`` feature maps.

    Layer names are fixed, so a head trained on cached backbone features
    (``keras.Model(features, emotion_head(features, 7))``) loads into the full network.
    """
    parts = []
    if use_convlstm:
        x = layers.ConvLSTM2D(convlstm_filters, 3, padding="same", name="convlstm")(
            feature_maps)
        parts.append(layers.GlobalAveragePooling2D(name="temporal_feature")(x))
    if use_transformer:
        steps = SpatialMean(name="step_features")(feature_maps)
        feature, attention = TemporalTransformer(
            transformer_dim, transformer_heads, transformer_mlp_dim,
            dropout=min(dropout, 0.1), name="transformer")(steps)
        parts.append(feature)
    else:
        attention = UniformAttention(name="uniform_attention")(feature_maps)
    if not parts:
        parts.append(layers.GlobalAveragePooling3D(name="pooled_feature")(feature_maps))
    fused = parts[0] if len(parts) == 1 else layers.Concatenate(name="fused")(parts)
    embedding = layers.Dense(embedding_dim, name="fusion")(fused)
    embedding = layers.LeakyReLU(negative_slope=0.1, name="embedding")(embedding)
    x = layers.Dropout(dropout, name="dropout")(embedding)
    probs = layers.Dense(num_classes, activation="softmax", name="probs")(x)
    return {"probs": probs, "embedding": embedding, "attention": attention}


def mirror_averaged(forward):
    """``forward`` averaged over each clip ``(n, t, h, w, c)`` and its left-right mirror
    image (one pass on both): a dict of outputs, as the classifier returns.

    >>> import numpy as np
    >>> f = mirror_averaged(lambda x: {"probs": ops.mean(x, axis=(1, 2, 4))})
    >>> x = np.arange(4.0).reshape(1, 1, 1, 4, 1)
    >>> np.asarray(f(x)["probs"]).tolist()
    [[1.5, 1.5, 1.5, 1.5]]
    """
    def averaged(x):
        n = ops.shape(x)[0]
        out = forward(ops.concatenate([x, ops.flip(x, axis=3)], axis=0))
        return {k: 0.5 * (v[:n] + v[n:]) for k, v in out.items()}

    return averaged


@keras.saving.register_keras_serializable(package="emotion_encoder")
class EmotionClassifier(keras.Model):
    """Clip-level emotion classifier and embedder on top of a :class:`ResNet3DBackbone`.

    Args:
        backbone: the 3D backbone (must keep >= 1 time step; the presets keep 4).
        labels: output label names, in order.
        use_convlstm: add the ConvLSTM temporal branch.
        use_transformer: add the Transformer attention branch.
        convlstm_filters: ConvLSTM2D width.
        transformer_dim, transformer_heads, transformer_mlp_dim: Transformer sizes.
        embedding_dim: width of the fused embedding.
        dropout: dropout before the classifier (and inside the Transformer).
        preprocessor: how face crops become this network's input (keras-hub's
            ``task.preprocessor``); saved with the model, so a ``.keras`` file keeps the
            crop framing and zoom it was trained and tuned with. None: the backbone's size
            and channels with the default framing.
        temperature: the calibration of the ``probs`` output (:mod:`emotion_encoder.calibration`,
            fitted on validation data): :meth:`calibrate` divides the log-probabilities by
            it. The graph's own ``probs`` stay the network's; 1 leaves them as they are.
    """

    def __init__(
        self,
        backbone: ResNet3DBackbone,
        labels: Sequence[str] = CANONICAL_LABELS,
        use_convlstm: bool = True,
        use_transformer: bool = True,
        convlstm_filters: int = 128,
        transformer_dim: int = 128,
        transformer_heads: int = 4,
        transformer_mlp_dim: int = 256,
        embedding_dim: int = 256,
        dropout: float = 0.3,
        preprocessor: FacePreprocessor | None = None,
        temperature: float = 1.0,
        **kwargs,
    ):
        if backbone.dims != 3:
            raise ValueError("EmotionClassifier needs a 3D backbone (dims=3)")
        inputs = keras.Input(shape=backbone.input_shape[1:], name="frames")
        outputs = emotion_head(backbone(inputs), len(labels), use_convlstm, use_transformer,
                               convlstm_filters, transformer_dim, transformer_heads,
                               transformer_mlp_dim, embedding_dim, dropout)
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)
        self.backbone = backbone
        self.labels = tuple(labels)
        self.use_convlstm = use_convlstm
        self.use_transformer = use_transformer
        self.convlstm_filters = convlstm_filters
        self.transformer_dim = transformer_dim
        self.transformer_heads = transformer_heads
        self.transformer_mlp_dim = transformer_mlp_dim
        self.embedding_dim = embedding_dim
        self.dropout = dropout
        self.preprocessor = preprocessor or FacePreprocessor(backbone.image_size,
                                                             backbone.channels)
        if not temperature > 0:
            raise ValueError(f"temperature must be above 0, got {temperature}")
        self.temperature = float(temperature)

    def calibrate(self, probs: np.ndarray) -> np.ndarray:
        """The network's ``probs`` at this model's :attr:`temperature` (numpy)."""
        return apply_temperature(probs, self.temperature)

    def get_config(self) -> dict:
        return {
            "name": self.name,
            "trainable": self.trainable,
            "backbone": keras.saving.serialize_keras_object(self.backbone),
            "labels": list(self.labels),
            "use_convlstm": self.use_convlstm,
            "use_transformer": self.use_transformer,
            "convlstm_filters": self.convlstm_filters,
            "transformer_dim": self.transformer_dim,
            "transformer_heads": self.transformer_heads,
            "transformer_mlp_dim": self.transformer_mlp_dim,
            "embedding_dim": self.embedding_dim,
            "dropout": self.dropout,
            "preprocessor": self.preprocessor.get_config(),
            "temperature": self.temperature,
        }

    @classmethod
    def from_config(cls, config: dict) -> "EmotionClassifier":
        config = dict(config)
        config["backbone"] = keras.saving.deserialize_keras_object(config["backbone"])
        if config.get("preprocessor") is not None:  # absent from files saved before it was
            config["preprocessor"] = FacePreprocessor.from_config(config["preprocessor"])
        return cls(**config)
