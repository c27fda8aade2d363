"""Can the clip classifier run on LiteRT (TFLite) instead of TensorFlow? Export, check, time.

    python benchmarks/litert_export.py [--preset default] [--out runs/litert/default.tflite]

Freezes the Keras network (mirror averaging off, batch 1), converts it with TFLite
builtins only, checks the outputs against Keras on random clips (max abs difference), and
times both in this run. If ``ai-edge-litert`` is importable in ``--litert-python`` (a
Python with ``pip install ai-edge-litert numpy``, no TensorFlow), it also times a fresh
process importing LiteRT, loading the file and running the first clip: the start-up a
LiteRT backend would give ``predict`` (issue 16).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import tensorflow as tf
from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

from emotion_encoder.models.loading import load_encoder_model

STARTUP = """
import time, numpy as np
t = time.time()
from ai_edge_litert.interpreter import Interpreter
it = Interpreter(model_path={path!r}, num_threads=2)
it.allocate_tensors()
inp = it.get_input_details()[0]
it.set_tensor(inp["index"], np.zeros(inp["shape"], np.float32)); it.invoke()
print(time.time() - t)
"""


def export(preset: str, out: Path) -> tuple[tf.types.experimental.ConcreteFunction, tuple]:
    model = load_encoder_model(preset).model
    shape = (1,) + tuple(model.input_shape[1:])
    forward = tf.function(lambda x: model(x, training=False),
                          input_signature=[tf.TensorSpec(shape, tf.float32)])
    frozen = convert_variables_to_constants_v2(forward.get_concrete_function())
    converter = tf.lite.TFLiteConverter.from_concrete_functions([frozen])
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(converter.convert())
    return forward, shape


def rate(call, x: np.ndarray, n: int = 40) -> float:
    call(x)
    t = time.perf_counter()
    for _ in range(n):
        call(x)
    return n / (time.perf_counter() - t)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default="default")
    parser.add_argument("--out", type=Path, default=Path("runs/litert/default.tflite"))
    parser.add_argument("--litert-python", help="a Python with ai-edge-litert installed")
    args = parser.parse_args()
    forward, shape = export(args.preset, args.out)
    interpreter = tf.lite.Interpreter(model_path=str(args.out), num_threads=2)
    interpreter.allocate_tensors()
    inp = interpreter.get_input_details()[0]
    outputs = interpreter.get_output_details()

    def lite(x):
        interpreter.set_tensor(inp["index"], x)
        interpreter.invoke()
        return [interpreter.get_tensor(d["index"]) for d in outputs]

    worst = 0.0
    for seed in range(5):
        x = np.random.default_rng(seed).normal(size=shape).astype(np.float32)
        ref = {v.shape: v for v in (t.numpy() for t in forward(x).values())}
        worst = max(worst, *(float(np.abs(ref[o.shape] - o).max()) for o in lite(x)))
    x = np.zeros(shape, np.float32)
    result = {"preset": args.preset, "file_mb": round(args.out.stat().st_size / 1e6, 1),
              "max_abs_diff": worst, "litert_clips_per_s": round(rate(lite, x), 1),
              "keras_clips_per_s": round(rate(forward, x), 1)}
    if args.litert_python:
        code = STARTUP.format(path=str(args.out.resolve()))
        t = time.perf_counter()
        proc = subprocess.run([args.litert_python, "-c", code], capture_output=True, text=True)
        result["litert_process_start_to_first_clip_s"] = round(time.perf_counter() - t, 2)
        result["litert_in_process_s"] = float(proc.stdout.strip().splitlines()[-1])
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
