"""The pretrained-backbone benchmark (``benchmarks/face_backbone.py``): its TensorFlow.js
graph-model reader on a small graph written here in that format (the real backbone is a
144 MB npm download), and the de-duplication of the mixture's repeated faces."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from google.protobuf import json_format
from tensorflow.core.framework import tensor_pb2

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import face_backbone as fb  # noqa: E402


def _write_graph_model(folder: Path, kernel: np.ndarray, bias: np.ndarray,
                       quantized: bool = False) -> Path:
    """A conv -> bias -> relu -> spatial mean graph as TensorFlow.js writes graph models:
    the topology's constants without values, the values in one weight file."""
    graph = tf.Graph()
    with graph.as_default():
        x = tf.compat.v1.placeholder(tf.float32, [None, 6, 6, 3], name="input_1")
        y = tf.nn.conv2d(x, tf.constant(kernel, name="conv/kernel"), 1, "SAME")
        y = tf.nn.relu(y + tf.constant(bias, name="conv/bias"), name="relu")
        tf.reduce_mean(y, [1, 2], name="pool")
    nodes = json_format.MessageToDict(graph.as_graph_def())["node"]
    weights, blobs = [], []
    for node in nodes:
        if node["op"] != "Const":
            continue
        value = tf.make_ndarray(json_format.ParseDict(node["attr"]["value"]["tensor"],
                                                      tensor_pb2.TensorProto()))
        node["attr"]["value"]["tensor"] = {k: v for k, v in node["attr"]["value"]["tensor"].items()
                                           if k in ("dtype", "tensorShape")}
        entry = {"name": node["name"], "shape": list(value.shape), "dtype": str(value.dtype)}
        if quantized:
            entry["quantization"] = {"dtype": "uint8", "scale": 0.1, "min": 0.0}
        weights.append(entry)
        blobs.append(value.tobytes())
    (folder / "group1-shard1of1.bin").write_bytes(b"".join(blobs))
    spec = {"format": "graph-model", "modelTopology": {"node": nodes},
            "weightsManifest": [{"paths": ["group1-shard1of1.bin"], "weights": weights}]}
    path = folder / "model.json"
    path.write_text(json.dumps(spec))
    return path


def test_graph_model_reads_weights_and_runs_like_the_original(tmp_path):
    rng = np.random.default_rng(0)
    kernel = rng.normal(size=(3, 3, 3, 5)).astype(np.float32)
    bias = rng.normal(size=5).astype(np.float32)
    network = fb.load_graph_model(_write_graph_model(tmp_path, kernel, bias), ("pool", "relu"))
    x = rng.normal(size=(2, 6, 6, 3)).astype(np.float32)
    pooled, relu = network(tf.constant(x))
    expected = tf.nn.relu(tf.nn.conv2d(x, kernel, 1, "SAME") + bias)
    assert relu.shape == (2, 6, 6, 5)
    np.testing.assert_allclose(relu.numpy(), expected.numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(pooled.numpy(), expected.numpy().mean((1, 2)), rtol=1e-5,
                               atol=1e-5)
    assert np.ptp(pooled.numpy()) > 0.1  # the weights were read, not left at zero


def test_graph_model_refuses_quantized_weights(tmp_path):
    kernel, bias = np.ones((3, 3, 3, 2), np.float32), np.zeros(2, np.float32)
    with pytest.raises(ValueError, match="quantized"):
        fb.load_graph_model(_write_graph_model(tmp_path, kernel, bias, quantized=True), ("pool",))


def test_distinct_maps_repeated_faces_to_their_first_copy():
    faces = np.stack([np.full((4, 4, 1), v, np.uint8) for v in (7, 3, 7, 9, 3, 7)])
    unique, inverse = fb.distinct(faces)
    assert unique.tolist() == [0, 1, 3]
    assert inverse.tolist() == [0, 1, 0, 2, 1, 0]
    np.testing.assert_array_equal(faces[unique][inverse], faces)
