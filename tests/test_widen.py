"""Net2WiderNet (training/widen.py): a trained 2D twin made wider computes the same."""

from __future__ import annotations

import numpy as np
import pytest

from emotion_encoder.models.still_classifier import build_still_classifier
from emotion_encoder.training.widen import widen_into


def _trained_like(model, rng, x) -> None:
    """Batch norms as a trained network has them (fresh ones are identities, and a
    block's second one starts at zero, which would switch the residual branches off),
    and a head whose logits spread about one, so that the probabilities are not one-hot."""
    import keras

    for layer in model.layers:
        if layer.__class__.__name__ == "BatchNormalization":
            shape = layer.get_weights()[0].shape
            layer.set_weights([1 + 0.2 * rng.normal(size=shape), 0.1 * rng.normal(size=shape),
                               0.1 * rng.normal(size=shape), rng.uniform(0.5, 2.0, shape)])
    pooled = keras.Model(model.input, model.get_layer("probs").input).predict(x, verbose=0)
    head = model.get_layer("probs")
    kernel = rng.normal(size=head.get_weights()[0].shape) / np.sqrt(pooled.shape[1])
    kernel /= pooled.std(axis=0)[:, None] + 1e-6  # logits vary from face to face
    head.set_weights([kernel, -pooled.mean(axis=0) @ kernel])


@pytest.mark.parametrize("preset,narrow_width,wide_width", [("default", 8, 12), ("fast", 4, 8)])
def test_a_widened_network_reads_every_face_as_before(preset, narrow_width, wide_width):
    rng = np.random.default_rng(0)
    narrow = build_still_classifier(preset, 7, width=narrow_width)
    x = rng.normal(size=(8, 48, 48, 1)).astype(np.float32)
    _trained_like(narrow, rng, x)
    wide = build_still_classifier(preset, 7, width=wide_width)
    assert widen_into(wide, narrow, np.random.default_rng(1)) == sum(
        1 for layer in narrow.layers if layer.weights)
    assert wide.get_layer("stage4_block1_conv2").get_weights()[0].shape[-1] == 8 * wide_width
    before = narrow.predict(x, verbose=0)
    assert before.std(axis=0).max() > 0.05  # the faces are told apart: a real test
    np.testing.assert_allclose(wide.predict(x, verbose=0), before, atol=1e-4)

    noisy = build_still_classifier(preset, 7, width=wide_width)
    widen_into(noisy, narrow, np.random.default_rng(1), noise=0.05)
    assert np.abs(noisy.predict(x, verbose=0) - before).max() > 1e-5  # the copies can part
    for name in ("stem_conv", "stage2_block1_conv1", "stage3_block2_conv2"):
        exact = wide.get_layer(name).get_weights()[0]
        moved = noisy.get_layer(name).get_weights()[0]
        old = narrow.get_layer(name).get_weights()[0].shape[-1]
        np.testing.assert_array_equal(moved[..., :old], exact[..., :old])  # old channels kept
        spread = np.abs(moved[..., old:] - exact[..., old:]).mean()
        assert 0.03 < spread / narrow.get_layer(name).get_weights()[0].std() < 0.05  # 0.05 * 0.8


def test_a_network_cannot_be_narrowed():
    narrow = build_still_classifier("default", 7, width=8)
    with pytest.raises(ValueError, match="cannot widen 8 channels to 4"):
        widen_into(build_still_classifier("default", 7, width=4), narrow,
                   np.random.default_rng(0))
