"""The face-api.js peer of the probe panel (``benchmarks/faceapi_probes.py``): its weight
files are read as the package stores them and its network runs on TensorFlow. The real
weights come from npm, so these tests write a manifest of the same layout with random
weights."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import faceapi_probes  # noqa: E402


def _layout() -> list[tuple[str, list[int]]]:
    """The expression model's weights: four dense blocks (32, 64, 128, 256 channels) of
    one strided and three plain separable convolutions, the first a plain convolution."""
    shapes, inputs = [], 3
    for block, width in enumerate((32, 64, 128, 256)):
        for conv in range(4):
            name = f"dense{block}/conv{conv}"
            if block == 0 and conv == 0:
                shapes.append((f"{name}/filters", [3, 3, 3, width]))
            else:
                source = inputs if conv == 0 else width
                shapes += [(f"{name}/depthwise_filter", [3, 3, source, 1]),
                           (f"{name}/pointwise_filter", [1, 1, source, width])]
            shapes.append((f"{name}/bias", [width]))
        inputs = width
    return shapes + [("fc/weights", [256, 7]), ("fc/bias", [7])]


@pytest.fixture
def weights(tmp_path):
    rng = np.random.default_rng(0)
    entries, data = [], b""
    for name, shape in _layout():
        n = int(np.prod(shape))
        if name.endswith("bias"):
            entries.append({"name": name, "shape": shape, "dtype": "float32"})
            data += rng.normal(0, 0.1, n).astype(np.float32).tobytes()
        else:
            bound = 1.0 / np.sqrt(n / shape[-1])  # uniform in +-1 / sqrt(fan-in)
            entries.append({"name": name, "shape": shape, "dtype": "float32", "quantization":
                            {"dtype": "uint8", "scale": 2 * bound / 255, "min": -bound}})
            data += rng.integers(0, 256, n, dtype=np.uint8).tobytes()
    (tmp_path / "face_expression_model.bin").write_bytes(data)
    (tmp_path / "face_expression_model-weights_manifest.json").write_text(json.dumps(
        [{"paths": ["face_expression_model.bin"], "weights": entries}]))
    return tmp_path


def test_weights_are_dequantized_and_a_short_file_is_refused(weights):
    arrays = faceapi_probes.read_weights(weights)
    assert list(arrays) == [name for name, _ in _layout()]
    assert arrays["dense3/conv3/pointwise_filter"].shape == (1, 1, 256, 256)
    bias = np.frombuffer((weights / "face_expression_model.bin").read_bytes()[-28:], np.float32)
    assert arrays["fc/bias"].tolist() == bias.tolist()
    data = (weights / "face_expression_model.bin").read_bytes()
    (weights / "face_expression_model.bin").write_bytes(data + b"\0\0\0\0")
    with pytest.raises(SystemExit, match="describes"):
        faceapi_probes.read_weights(weights)


def test_peer_reads_a_face_crop_padded_square_into_seven_probabilities(weights, face_models):
    peer = faceapi_probes.FaceApiPeer(weights)
    crop = np.full((60, 30, 3), 200, np.uint8)
    face = peer.face(crop, cropped=True)
    assert face.shape == (112, 112, 3)
    assert (face[:, :20] == 0).all() and (face[:, 36:76] == 200).all()  # black side bands
    rng = np.random.default_rng(1)
    image = rng.integers(0, 256, (80, 80, 3), dtype=np.uint8)
    probs = peer.probs(image, cropped=True)
    assert sorted(probs) == sorted(["anger", "disgust", "fear", "happiness", "sadness",
                                    "surprise", "neutral"])
    assert sum(probs.values()) == pytest.approx(1.0, abs=1e-5)
    assert probs != peer.probs(image[:, ::-1].copy(), cropped=True)
    assert peer.probs(np.zeros((120, 160, 3), np.uint8), cropped=False) is None  # no face
