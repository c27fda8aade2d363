"""Export a preset's Keras network to a LiteRT (TFLite) graph that starts without TensorFlow.

The Keras model stays the source of truth: this freezes a twin of it with its weights
(3D convolutions as 2D ones over stacked frames,
:class:`~emotion_encoder.models.resnet3d_backbone.FrameConv3D`, which TFLite runs far
faster; a fixed batch of :data:`~emotion_encoder.models.presets.LITERT_BATCH` clips; the
plain network, so that the classifier runs it with or without mirror averaging), converts
it with TFLite builtins only, and checks the graph against the Keras model on random clips
before writing it (atomically) with a JSON sidecar that says which output is which (the
labels, temperature and preprocessor stay the preset's). ``quantized=True`` writes the
same graph with int8 weights (dynamic-range quantization: activations are quantized on
the fly; ~2.4x the clips/s of the float graph here, probabilities within
:data:`QUANTIZED_TOLERANCE` of Keras instead of 1e-4). The LiteRT backend
(:mod:`emotion_encoder.litert_classifier`) reads the pair; importing TensorFlow is needed
only here, once per preset and weights.

>>> path = export_litert("default", cache_dir())       # doctest: +SKIP
>>> path.name                                           # doctest: +SKIP
'default-3f1c0d2a9b8e7f60-b8-v5.tflite'
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
from ai_edge_litert.interpreter import Interpreter

from emotion_encoder import _runtime  # noqa: F401  (oneDNN before TF)
import tensorflow as tf
from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

from emotion_encoder.atomic import atomic_path, write_atomic
from emotion_encoder.errors import ModelFileError
from emotion_encoder.models.loading import build_model, load_encoder_model
from emotion_encoder.models.presets import LITERT_BATCH, litert_path

logging.getLogger("absl").setLevel(logging.ERROR)  # the converter's deprecation notes

TOLERANCE = 1e-4
"""The largest difference to Keras an exported graph may have (outputs in [0, 1] and
embeddings of order 1; measured ~5e-7)."""
QUANTIZED_TOLERANCE = 0.05
"""The largest difference in probability to Keras the int8-weight graph may have on the
check's clips (measured 0.005 there and ~0.01 on real face clips; its embeddings, ~0.02
off, are not held to a bound: the sidecar records how far each output moved)."""


def export_litert(preset: str, cache: Path, quantized: bool = False) -> Path:
    """Write ``preset``'s LiteRT graph (``quantized``: with int8 weights) and its sidecar
    under ``cache`` (see :func:`~emotion_encoder.models.presets.litert_path`) and return
    the graph's path; an existing graph for the same weights is kept."""
    path = litert_path(preset, cache, quantized)
    if path is None:
        raise ModelFileError(f"preset {preset!r} ships no trained weights to export")
    if path.exists() and path.with_suffix(".json").exists():
        return path
    source = load_encoder_model(preset).model
    model = build_model(preset, backbone_frame_convs=True)  # CONV_2D, no CONV_3D
    model.set_weights(source.get_weights())
    shape = (LITERT_BATCH,) + tuple(model.input_shape[1:])
    forward = tf.function(lambda x: model(x, training=False),
                          input_signature=[tf.TensorSpec(shape, tf.float32)])
    frozen = convert_variables_to_constants_v2(forward.get_concrete_function())
    converter = tf.lite.TFLiteConverter.from_concrete_functions([frozen])
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    if quantized:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]  # int8 weights, float I/O
    graph = converter.convert()
    interpreter = Interpreter(model_content=graph, num_threads=1)  # as the backend runs it
    interpreter.allocate_tensors()
    entry = interpreter.get_input_details()[0]["index"]
    x = np.random.default_rng(0).normal(size=shape).astype(np.float32)
    reference = {k: np.asarray(v) for k, v in source(x, training=False).items()}
    interpreter.set_tensor(entry, x)
    interpreter.invoke()
    outputs, diffs = {}, {}
    for detail in interpreter.get_output_details():
        got = interpreter.get_tensor(detail["index"])
        name = min(reference, key=lambda k: np.inf if reference[k].shape != got.shape
                   else float(np.abs(reference[k] - got).max()))
        outputs[name] = int(detail["index"])
        diffs[name] = float(np.abs(reference[name] - got).max())
    worst = diffs.get("probs", np.inf) if quantized else max(diffs.values(), default=np.inf)
    bound = QUANTIZED_TOLERANCE if quantized else TOLERANCE
    if sorted(outputs) != sorted(reference) or worst > bound:
        raise ModelFileError(f"preset {preset!r}: the LiteRT graph differs from Keras by "
                             f"{worst:.2g} (at most {bound:g}); keep the Keras backend")
    meta = {"preset": preset, "batch": LITERT_BATCH, "input": int(entry), "outputs": outputs,
            "input_shape": list(shape[1:]), "quantized": quantized,
            "max_abs_diff": max(diffs.values()), "max_abs_diff_per_output": diffs}
    with atomic_path(path, ".tflite") as tmp:
        tmp.write_bytes(graph)
    write_atomic(path.with_suffix(".json"), json.dumps(meta, indent=1))
    return path
