"""Widen a trained 2D twin without changing what it computes (Net2WiderNet).

A wider backbone cannot start from a narrower trained one by copying weights, and a run
from scratch is hours on a CPU. Net2WiderNet (Chen et al. 2016) gives the wider network
the narrow one's function: each new channel repeats a random old one (its incoming
weights and batch-norm parameters copied), and every layer that reads a repeated channel
divides its weights by the number of copies, so the sums are unchanged. Tensors added by
a residual connection share one channel mapping. A little noise on the new channels'
incoming weights lets the copies part when training goes on.

>>> import numpy as np
>>> from emotion_encoder.models.still_classifier import build_still_classifier
>>> narrow = build_still_classifier("default", 7, width=8)
>>> wide = build_still_classifier("default", 7, width=12)
>>> widen_into(wide, narrow, np.random.default_rng(0))
73
>>> x = np.random.default_rng(1).normal(size=(4, 48, 48, 1)).astype("float32")
>>> bool(np.allclose(wide.predict(x, verbose=0), narrow.predict(x, verbose=0), atol=1e-5))
True
"""

from __future__ import annotations

import re

import numpy as np
from keras import layers

from emotion_encoder.training.inflate import _walk

_BLOCK = re.compile(r"stage(\d+)_block(\d+)_conv1$")


class _Mapping:
    """For one group of channels: which old channel each new one repeats, and how many
    copies each old one has."""

    def __init__(self, old: int, new: int, rng: np.random.Generator):
        if new < old:
            raise ValueError(f"cannot widen {old} channels to {new}")
        self.index = np.concatenate([np.arange(old), rng.integers(0, old, new - old)])
        self.copies = np.bincount(self.index, minlength=old).astype(np.float32)
        self.old = old


def _groups(model) -> dict[str, tuple[str | None, str | None]]:
    """Each weighted layer's (input group, output group) of channels; ``None`` is the
    image or the labels (never widened). Residual branches share their output group."""
    names = {layer.name for layer in _walk(model)}
    blocks = sorted((int(m[1]), int(m[2])) for m in map(_BLOCK.match, names) if m)
    plan = {"stem_conv": (None, "stem"), "stem_bn": (None, "stem")}
    current = "stem"
    for stage, block in blocks:
        name, inner = f"stage{stage}_block{block}", f"stage{stage}_block{block}_inner"
        out = f"stage{stage}" if f"{name}_proj" in names else current
        plan.update({f"{name}_conv1": (current, inner), f"{name}_bn1": (None, inner),
                     f"{name}_conv2": (inner, out), f"{name}_bn2": (None, out),
                     f"{name}_proj": (current, out), f"{name}_proj_bn": (None, out)})
        current = out
    plan["probs"] = (current, None)
    return plan


def widen_into(wide, narrow, rng: np.random.Generator, noise: float = 0.0) -> int:
    """Set ``wide`` (a 2D twin of the same depth, at least as wide in every layer) to
    compute what ``narrow`` computes; ``noise`` (a fraction of each kernel's standard
    deviation) is added to the repeated channels' incoming weights. Returns the number
    of layers set."""
    jitter = np.random.default_rng(rng.integers(2**32))  # the same copies with or without
    source = {layer.name: layer for layer in _walk(narrow)}
    plan = _groups(wide)
    mappings: dict[str, _Mapping] = {}
    count = 0
    for layer in _walk(wide):
        if not layer.weights:
            continue
        if layer.name not in plan or layer.name not in source:
            raise ValueError(f"layer {layer.name!r}: no rule or no narrow twin to widen from")
        old = source[layer.name].get_weights()
        group_in, group_out = plan[layer.name]
        target = [tuple(w.shape) for w in layer.get_weights()]
        if group_out is not None and group_out not in mappings:
            mappings[group_out] = _Mapping(old[0].shape[-1], target[0][-1], rng)
        if isinstance(layer, layers.BatchNormalization):
            new = [w[mappings[group_out].index] for w in old]
        else:  # a convolution or the dense head: kernel (..., in, out) and maybe a bias
            kernel = old[0]
            if group_in is not None:
                into = mappings[group_in]
                kernel = kernel[..., into.index, :] / into.copies[into.index][:, None]
            if group_out is not None:
                out = mappings[group_out]
                kernel = kernel[..., out.index].copy()
                if noise:
                    spread = noise * float(np.std(old[0]))
                    kernel[..., out.old:] += jitter.normal(
                        0.0, spread, kernel[..., out.old:].shape).astype(kernel.dtype)
            new = [kernel] + ([w[mappings[group_out].index] if group_out else w
                               for w in old[1:]])
        if [tuple(w.shape) for w in new] != target:
            raise ValueError(f"layer {layer.name!r}: widened to {[w.shape for w in new]}, "
                             f"the wide network has {target}")
        layer.set_weights(new)
        count += 1
    return count
