"""Issue 14's landmark lever: does a face-mesh geometry stream add to the network?

    python benchmarks/landmark_stream.py                 # the shipped default preset
    python benchmarks/landmark_stream.py --model runs/x/model.keras

The MediaPipe face mesh (468 points, ``face_landmark.tflite`` from the detector's wheel)
runs on every face of the panel's sets, cut as the model's crop (192 px where the set
is detected, the 48 px crop itself for FER2013 and CK+) and padded by a quarter of its
side. The points are aligned to the mean face by a similarity transform fitted on rigid
points (eye corners, nose bridge, forehead, temples) and a class-balanced MLP learns the
seven labels from them on the training parts (FER+ majority train, LFW and CK+ training
people). Printed per probe: the landmarks alone, the model alone, and the late fusion
``log p_model + w log p_landmarks`` for several ``w`` (accuracy / balanced accuracy).
Needs ``../shared/data``; ~20 min here the first time (cutting the 192 px crops),
then the crops are cached under ``--out``.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import cv2
import numpy as np
from ai_edge_litert.interpreter import Interpreter
from sklearn.neural_network import MLPClassifier

from emotion_encoder.data.discover import open_dataset
from emotion_encoder.evaluation import evaluate
from emotion_encoder.face_cache import CropSettings, cache_faces, sample_name
from emotion_encoder.faces.model_files import model_path
from emotion_encoder.labels import CANONICAL_LABELS

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
TRAIN = {"ferplus-train": ("ferplus/votes.csv", "train"),
         "lfw-train": ("lfw_expressions/labels.csv", "train"),
         "ckplus-train": ("ckplus", "train")}
PROBES = {"jaffe": ("jaffe/labels.csv", None), "yale": ("yale_expressions/labels.csv", None),
          "ckplus-test": ("ckplus", "test"), "lfw-test": ("lfw_expressions/labels.csv", "test"),
          "ferplus-test": ("ferplus/votes.csv", "test")}
OPTIONS = {"contempt": "drop", "unknown": "drop"}
RIGID = [33, 133, 362, 263, 168, 6, 197, 195, 5, 4, 10, 151, 9, 234, 454, 127, 356, 1, 2]
PAD = 0.25


class FaceMesh:
    """The 468-point face mesh on a face crop (uint8, grey or RGB): points in [0, 1]."""

    def __init__(self):
        self.interpreter = Interpreter(model_path=str(model_path("face_landmark")),
                                       num_threads=2)
        self.interpreter.allocate_tensors()
        self.input = self.interpreter.get_input_details()[0]["index"]
        self.points = self.interpreter.get_output_details()[0]["index"]

    def __call__(self, crop: np.ndarray) -> np.ndarray:
        if crop.shape[-1] == 1:
            crop = np.repeat(crop, 3, axis=-1)
        p = int(round(PAD * crop.shape[0]))
        padded = cv2.copyMakeBorder(crop, p, p, p, p, cv2.BORDER_REPLICATE)
        x = cv2.resize(padded, (192, 192)).astype(np.float32) / 255.0
        self.interpreter.set_tensor(self.input, x[None])
        self.interpreter.invoke()
        return self.interpreter.get_tensor(self.points).reshape(468, 3)[:, :2] / 192.0


def landmarks(path: str, split: str | None, mesh: FaceMesh, cache: Path
              ) -> dict[str, tuple[np.ndarray, int]]:
    """Sample name -> (468 x 2 points, label index) of each sample's last frame; crops are
    cached under ``cache``."""
    dataset, cropped = open_dataset(DATA / path, split=split, **OPTIONS)
    settings = CropSettings(image_size=48 if cropped else 192, channels=1 if cropped else 3,
                            detect=not cropped)
    faces = cache_faces(dataset, cache / "crops", settings, progress=False)
    return {sample_name(s): (mesh(seq[-1]), CANONICAL_LABELS.index(faces.label_names[y]))
            for seq, y, s in zip(faces.sequences, faces.labels, faces.samples)}


def aligned(points: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """``points`` (n, 468, 2) mapped onto ``reference`` by a similarity transform fitted on
    the rigid points, flattened."""
    target = reference[RIGID] - reference[RIGID].mean(0)
    out = []
    for x in points:
        centre = x[RIGID].mean(0)
        rigid = x[RIGID] - centre
        u, s, vt = np.linalg.svd(rigid.T @ target)
        out.append((x - centre) @ (u @ vt) * (s.sum() / (rigid ** 2).sum()))
    return np.stack(out).reshape(len(points), -1)


def model_probs(model: str, key: str, path: str, split: str | None, out: Path
                ) -> dict[str, np.ndarray]:
    """Sample name -> the model's calibrated probabilities (through ``evaluate``)."""
    report = evaluate(model, DATA / path, out / key, split=split, **OPTIONS)
    with open(report.out / "predictions.csv", encoding="utf-8") as handle:
        return {row["sample"]: np.array([float(row[f"p_{label}"]) for label in CANONICAL_LABELS])
                for row in csv.DictReader(handle)}


def scores(y: np.ndarray, logits: np.ndarray) -> str:
    predicted = logits.argmax(1)
    balanced = np.mean([np.mean(predicted[y == c] == c) for c in np.unique(y)])
    return f"{100 * np.mean(predicted == y):.1f} / {100 * balanced:.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="default")
    parser.add_argument("--out", default="runs/landmark-stream")
    args = parser.parse_args()
    out = Path(args.out)
    mesh = FaceMesh()
    train = [landmarks(p, s, mesh, out) for p, s in TRAIN.values()]
    points = np.concatenate([np.stack([v[0] for v in t.values()]) for t in train])
    y = np.concatenate([[v[1] for v in t.values()] for t in train])
    reference = points.mean(0)
    x = aligned(points, reference)
    mean, std = x.mean(0), x.std(0) + 1e-6
    weights = (len(y) / (7 * np.maximum(np.bincount(y, minlength=7), 1)))[y]
    rng = np.random.default_rng(0)
    balanced = rng.choice(len(y), size=len(y), p=weights / weights.sum())
    mlp = MLPClassifier((256,), alpha=1e-2, max_iter=60, early_stopping=True, random_state=0)
    mlp.fit(((x - mean) / std)[balanced], y[balanced])
    print(f"landmark MLP trained on {len(y)} faces ({', '.join(TRAIN)})")
    ws = (0.25, 0.5, 1.0)
    print("| probe | n | landmarks alone | model alone | "
          + " | ".join(f"fused, w = {w}" for w in ws) + " |")
    print("|---|---|---|---|" + "---|" * len(ws))
    for key, (path, split) in PROBES.items():
        found = landmarks(path, split, mesh, out)
        probs = model_probs(args.model, key, path, split, out)
        names = [n for n in probs if n in found]
        truth = np.array([found[n][1] for n in names])
        feats = aligned(np.stack([found[n][0] for n in names]), reference)
        p_mesh = np.log(mlp.predict_proba((feats - mean) / std) + 1e-6)
        p_model = np.log(np.stack([probs[n] for n in names]) + 1e-6)
        fused = [scores(truth, p_model + w * p_mesh) for w in ws]
        print(f"| {key} | {len(names)} | {scores(truth, p_mesh)} | {scores(truth, p_model)} | "
              + " | ".join(fused) + " |", flush=True)


if __name__ == "__main__":
    main()
