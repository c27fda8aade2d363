"""Clips/s and GFLOP/s of each preset at batch 1 and 8, with oneDNN on and off, in one run;
then the shipped presets' clip classifiers on each backend (Keras, LiteRT, LiteRT int8).

    python benchmarks/model_speed.py                 # all presets
    python benchmarks/model_speed.py --presets default --seconds 5

oneDNN must be chosen before TensorFlow loads, so each setting runs in its own child
process; the table shows both and their ratio. Weights are random: speed does not depend
on them. The backend table times what the encoder runs (mirror averaging included, batches
of 8 clips) on the shipped weights, for presets whose LiteRT graphs are exported
(``emotion-encoder fetch-models --litert``: float and int8 weights).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time


def count_flops(model) -> float:
    """Floating-point operations (2 x multiply-adds) of one clip through ``model``."""
    import numpy as np
    from keras import layers

    from emotion_encoder.models.temporal_transformer import TemporalTransformer

    def walk(layer):
        if hasattr(layer, "layers") and not isinstance(layer, TemporalTransformer):
            for sub in layer.layers:
                yield from walk(sub)
        else:
            yield layer

    total = 0.0
    for layer in walk(model):
        if isinstance(layer, (layers.Conv3D, layers.Conv2D)):
            out = layer.output.shape
            cin = layer.input.shape[-1]
            total += 2 * np.prod(layer.kernel_size) * cin * out[-1] * np.prod(out[1:-1])
        elif isinstance(layer, layers.ConvLSTM2D):
            steps, h, w, cin = layer.input.shape[1:]
            f = layer.filters
            total += 2 * np.prod(layer.kernel_size) * (cin + f) * 4 * f * h * w * steps
        elif isinstance(layer, layers.Dense):
            total += 2 * layer.input.shape[-1] * layer.units * np.prod(layer.output.shape[1:-1])
        elif isinstance(layer, TemporalTransformer):
            steps, cin = layer.input.shape[1:]
            tokens, d, m = steps + 1, layer.dim, layer.mlp_dim
            total += 2 * steps * cin * d                    # projection
            total += 2 * tokens * d * d * 4                 # q, k, v, output projections
            total += 2 * 2 * tokens * tokens * d            # scores and weighted sum
            total += 2 * tokens * (d * m + m * d)           # feed-forward
    return float(total)


def measure(presets: list[str], batches: list[int], seconds: float) -> list[dict]:
    """Run in a child process: time each preset and batch size."""
    import numpy as np
    import tensorflow as tf

    from emotion_encoder.models.loading import build_model

    rows = []
    for preset in presets:
        model = build_model(preset)
        flops = count_flops(model)
        forward = tf.function(lambda x: model(x, training=False))
        for batch in batches:
            x = tf.constant(np.random.rand(batch, *model.input_shape[1:]).astype("float32"))
            forward(x)
            forward(x)
            clips, start = 0, time.perf_counter()
            while time.perf_counter() - start < seconds or clips < 2 * batch:
                forward(x)["probs"].numpy()
                clips += batch
            elapsed = time.perf_counter() - start
            rows.append({"preset": preset, "batch": batch, "clips_per_s": clips / elapsed,
                         "gflop_per_clip": flops / 1e9,
                         "gflop_per_s": flops * clips / elapsed / 1e9,
                         "steps": int(model.output["attention"].shape[-1])})
    return rows


def measure_backends(presets: list[str], seconds: float) -> list[dict]:
    """Run in a child process (oneDNN on): clips/s of each shipped preset's classifier on
    Keras and on LiteRT (float and int8 weights), batches of :data:`LITERT_BATCH` clips."""
    import numpy as np

    from emotion_encoder import EmotionEncoder
    from emotion_encoder.faces.model_files import cache_dir
    from emotion_encoder.litert_classifier import cached_graph, litert_installed
    from emotion_encoder.models.presets import LITERT_BATCH, weights_path

    rows = []
    for preset in presets:
        if weights_path(preset) is None or not litert_installed() or \
                cached_graph(preset, cache_dir()) is None or \
                cached_graph(preset, cache_dir(), quantized=True) is None:
            continue
        row = {"preset": preset}
        for backend in ("keras", "litert", "litert-int8"):
            classifier = EmotionEncoder(preset, backend=backend).classifier
            x = np.random.default_rng(0).uniform(
                0, 255, (LITERT_BATCH,) + tuple(classifier.input_shape)).astype(np.float32)
            classifier.forward(x)
            clips, start = 0, time.perf_counter()
            while time.perf_counter() - start < seconds or clips < 2 * LITERT_BATCH:
                classifier.forward(x)
                clips += LITERT_BATCH
            row[backend] = clips / (time.perf_counter() - start)
        rows.append(row)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--presets", nargs="+", default=["default", "paper"])
    parser.add_argument("--batches", nargs="+", type=int, default=[1, 8])
    parser.add_argument("--seconds", type=float, default=8.0, help="timing per measurement")
    parser.add_argument("--child", choices=["models", "backends"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child == "models":
        print(json.dumps(measure(args.presets, args.batches, args.seconds)))
        return
    if args.child == "backends":
        print(json.dumps(measure_backends(args.presets, args.seconds)))
        return
    results = {}
    for onednn in ("1", "0"):
        env = dict(os.environ, TF_ENABLE_ONEDNN_OPTS=onednn, TF_CPP_MIN_LOG_LEVEL="3")
        out = subprocess.run([sys.executable, __file__, "--child", "models",
                              "--seconds", str(args.seconds),
                              "--presets", *args.presets, "--batches", *map(str, args.batches)],
                             env=env, capture_output=True, text=True, check=True).stdout
        results[onednn] = json.loads(out.strip().splitlines()[-1])
    print(f"{'preset':<8} {'batch':>5} {'steps':>5} {'GFLOP/clip':>10} "
          f"{'clips/s on':>10} {'clips/s off':>11} {'on/off':>6} {'GFLOP/s on':>10}")
    for on, off in zip(results["1"], results["0"]):
        print(f"{on['preset']:<8} {on['batch']:>5} {on['steps']:>5} {on['gflop_per_clip']:>10.2f} "
              f"{on['clips_per_s']:>10.1f} {off['clips_per_s']:>11.1f} "
              f"{on['clips_per_s'] / off['clips_per_s']:>6.2f} {on['gflop_per_s']:>10.1f}")
    env = dict(os.environ, TF_ENABLE_ONEDNN_OPTS="1", TF_CPP_MIN_LOG_LEVEL="3")
    out = subprocess.run([sys.executable, __file__, "--child", "backends", "--seconds",
                          str(args.seconds), "--presets", *args.presets],
                         env=env, capture_output=True, text=True, check=True).stdout
    rows = json.loads(out.strip().splitlines()[-1])
    if rows:
        print("\nshipped weights, mirror averaging, batches of 8 (what the encoder runs)")
        print(f"{'preset':<8} {'Keras clips/s':>13} {'LiteRT clips/s':>14} {'LiteRT/Keras':>12} "
              f"{'int8 clips/s':>12} {'int8/LiteRT':>11}")
    for row in rows:
        print(f"{row['preset']:<8} {row['keras']:>13.1f} {row['litert']:>14.1f} "
              f"{row['litert'] / row['keras']:>12.2f} {row['litert-int8']:>12.1f} "
              f"{row['litert-int8'] / row['litert']:>11.2f}")


if __name__ == "__main__":
    main()
