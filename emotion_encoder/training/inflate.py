"""Inflate the weights of a 2D twin into the 3D backbone (centre initialisation).

Each 3D kernel gets the 2D kernel in its middle temporal slice and zeros elsewhere, so a
static clip through the 3D network gives what the still gives through the 2D one.

>>> copied = inflate_into(backbone3d, still_model)  # doctest: +SKIP
>>> copied = deflate_into(still_model, backbone3d)  # doctest: +SKIP
"""

from __future__ import annotations

import numpy as np
from keras import layers

from emotion_encoder.models.resnet3d_backbone import ResNet3DBackbone


def inflate_into(backbone: ResNet3DBackbone, still_model) -> int:
    """Copy every layer of ``backbone`` from the same-named layer of ``still_model``.

    Returns the number of layers copied; raises if a weighted layer has no 2D twin.
    """
    pairs = _twins(backbone, still_model, "inflate from")
    for layer, twin in pairs:
        weights = twin.get_weights()
        if isinstance(layer, layers.Conv3D):
            kernel = np.zeros(tuple(layer.kernel.shape), np.float32)
            kernel[kernel.shape[0] // 2] = weights[0]
            weights = [kernel, *weights[1:]]
        layer.set_weights(weights)
    return len(pairs)


def deflate_into(still_model, backbone: ResNet3DBackbone) -> int:
    """The inverse of :func:`inflate_into`: copy ``backbone``'s weights into the same-named
    layers of the 2D twin, each 3D kernel's middle temporal slice into the 2D kernel.

    Exact for a backbone that was inflated and then kept frozen (the recipe's stage 2), so
    a shipped model's still network can be trained further on new faces. Returns the
    number of layers copied.
    """
    pairs = _twins(backbone, still_model, "deflate into")
    for layer, twin in pairs:
        weights = layer.get_weights()
        if isinstance(layer, layers.Conv3D):
            weights = [weights[0][weights[0].shape[0] // 2], *weights[1:]]
        twin.set_weights(weights)
    return len(pairs)


def _twins(backbone: ResNet3DBackbone, still_model, verb: str) -> list[tuple]:
    """``(3D layer, same-named 2D layer)`` for every weighted layer of ``backbone``."""
    twins = {layer.name: layer for layer in _walk(still_model)}
    missing = [layer.name for layer in backbone.layers
               if layer.weights and layer.name not in twins]
    if missing:
        raise ValueError(f"layer {missing[0]!r} has no 2D twin to {verb}")
    return [(layer, twins[layer.name]) for layer in backbone.layers if layer.weights]


def _walk(model):
    for layer in model.layers:
        if hasattr(layer, "layers"):
            yield from _walk(layer)
        else:
            yield layer
