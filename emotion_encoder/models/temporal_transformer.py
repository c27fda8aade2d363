"""Transformer module of the paper (eqs. 7-9) over the backbone's time steps.

A class token and a learned positional encoding are added to the projected per-step
features (eq. 7); one pre-norm block of multi-head self-attention with residual (eq. 8)
and a two-layer feed-forward with LeakyReLU and residual (eq. 9) follows; the class-token
output goes through BatchNorm and is the *attention feature*. The layer also returns the
class token's attention over the time steps (mean over heads, renormalised to sum to 1).

>>> import numpy as np
>>> feature, attention = TemporalTransformer(dim=32, num_heads=4, mlp_dim=64)(
...     np.zeros((2, 4, 16), "float32"))
>>> tuple(feature.shape), tuple(attention.shape)
((2, 32), (2, 4))
"""

from __future__ import annotations

from emotion_encoder import _runtime  # noqa: F401  (oneDNN before TF)
import keras
from keras import layers, ops


@keras.saving.register_keras_serializable(package="emotion_encoder")
class TemporalTransformer(layers.Layer):
    """Class-token Transformer over ``(batch, steps, features)``; returns (feature, attention)."""

    def __init__(self, dim: int = 128, num_heads: int = 4, mlp_dim: int = 256,
                 dropout: float = 0.1, **kwargs):
        super().__init__(**kwargs)
        self.dim = dim
        self.num_heads = num_heads
        self.mlp_dim = mlp_dim
        self.dropout = dropout
        self.projection = layers.Dense(dim, name="projection")
        self.norm_attention = layers.LayerNormalization(epsilon=1e-6, name="norm_attention")
        self.attention = layers.MultiHeadAttention(num_heads, key_dim=dim // num_heads,
                                                   dropout=dropout, name="self_attention")
        self.norm_mlp = layers.LayerNormalization(epsilon=1e-6, name="norm_mlp")
        self.mlp_hidden = layers.Dense(mlp_dim, name="mlp_hidden")
        self.mlp_activation = layers.LeakyReLU(negative_slope=0.1)
        self.mlp_out = layers.Dense(dim, name="mlp_out")
        self.mlp_dropout = layers.Dropout(dropout)
        self.class_norm = layers.BatchNormalization(epsilon=1e-5, momentum=0.9, name="class_bn")

    def build(self, input_shape):
        steps, features = input_shape[1], input_shape[2]
        self.class_token = self.add_weight(name="class_token", shape=(1, 1, self.dim),
                                           initializer="zeros")
        self.position_embedding = self.add_weight(
            name="position_embedding", shape=(1, steps + 1, self.dim),
            initializer=keras.initializers.TruncatedNormal(stddev=0.02))
        tokens = (input_shape[0], steps + 1, self.dim)
        self.projection.build(input_shape)
        self.norm_attention.build(tokens)
        self.attention.build(tokens, tokens)
        self.norm_mlp.build(tokens)
        self.mlp_hidden.build(tokens)
        self.mlp_out.build((input_shape[0], steps + 1, self.mlp_dim))
        self.class_norm.build((input_shape[0], self.dim))
        del features

    def call(self, inputs, training=None):
        x = self.projection(inputs)
        batch = ops.shape(x)[0]
        cls = ops.broadcast_to(self.class_token, (batch, 1, self.dim))
        z = ops.concatenate([cls, x], axis=1) + self.position_embedding       # eq. (7)
        h = self.norm_attention(z)
        attended, scores = self.attention(h, h, return_attention_scores=True,
                                          training=training)
        z = z + attended                                                     # eq. (8)
        h = self.mlp_out(self.mlp_activation(self.mlp_hidden(self.norm_mlp(z))))
        z = z + self.mlp_dropout(h, training=training)                       # eq. (9)
        feature = self.class_norm(z[:, 0], training=training)
        weights = ops.mean(scores[:, :, 0, 1:], axis=1)
        weights = weights / (ops.sum(weights, axis=-1, keepdims=True) + 1e-9)
        return feature, weights

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.dim), (input_shape[0], input_shape[1])

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(dim=self.dim, num_heads=self.num_heads, mlp_dim=self.mlp_dim,
                      dropout=self.dropout)
        return config
