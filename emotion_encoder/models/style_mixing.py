"""Feature-statistics mixing between training faces (MixStyle, Zhou et al., ICLR 2021).

The per-channel mean and standard deviation of an early feature map carry a face's
"style" (lighting, contrast, camera, skin tone) more than its expression. In training,
with probability ``rate`` per batch, each face's statistics are replaced by a random mix
with another face's of the batch, so the layers after it learn to read expressions under
styles the training sets do not hold together. Identity at inference; no weights, so a
network trained with it loads into one built without it.

>>> import numpy as np
>>> x = np.random.default_rng(0).normal(size=(4, 6, 6, 3)).astype("float32")
>>> layer = StyleMixing(rate=1.0, seed=1)
>>> bool(np.array_equal(np.asarray(layer(x, training=False)), x))
True
>>> y = np.asarray(layer(x, training=True))
>>> bool(np.allclose(y, x, atol=1e-3))
False
"""

from __future__ import annotations

import keras
from keras import layers, ops


@keras.saving.register_keras_serializable(package="emotion_encoder")
class StyleMixing(layers.Layer):
    """MixStyle on a channels-last map ``(batch, ..., channels)``: with probability ``rate``
    a batch's per-sample channel statistics become ``lam * own + (1 - lam) * other's``,
    ``lam ~ Beta(alpha, alpha)`` per sample, the other sample drawn by a shuffle."""

    def __init__(self, rate: float = 0.5, alpha: float = 0.1, seed: int | None = None,
                 **kwargs):
        super().__init__(**kwargs)
        if not 0.0 <= rate <= 1.0 or alpha <= 0:
            raise ValueError(f"StyleMixing needs 0 <= rate <= 1 and alpha > 0, got rate "
                             f"{rate}, alpha {alpha}")
        self.rate, self.alpha, self.seed = float(rate), float(alpha), seed
        self.generator = keras.random.SeedGenerator(seed)

    def call(self, x, training=False):
        if not training or self.rate == 0.0:
            return x
        axes = tuple(range(1, len(x.shape) - 1))
        mean = ops.stop_gradient(ops.mean(x, axis=axes, keepdims=True))
        std = ops.stop_gradient(ops.sqrt(ops.var(x, axis=axes, keepdims=True) + 1e-6))
        n = ops.shape(x)[0]
        lam = keras.random.beta((n,) + (1,) * (len(x.shape) - 1), self.alpha, self.alpha,
                                dtype=x.dtype, seed=self.generator)
        other = keras.random.shuffle(ops.arange(n), seed=self.generator)
        mixed_mean = lam * mean + (1.0 - lam) * ops.take(mean, other, axis=0)
        mixed_std = lam * std + (1.0 - lam) * ops.take(std, other, axis=0)
        mixed = (x - mean) / std * mixed_std + mixed_mean
        apply = keras.random.uniform((), seed=self.generator) < self.rate
        return ops.where(apply, mixed, x)

    def get_config(self) -> dict:
        return {**super().get_config(), "rate": self.rate, "alpha": self.alpha,
                "seed": self.seed}
