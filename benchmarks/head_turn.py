"""How accuracy falls as the head turns away: a probe's faces binned by how far the nose
sits off the eyes' midline, scored from the probe panel's own predictions.

    python benchmarks/probes.py --only lfw            # the panel's readings (once)
    python benchmarks/head_turn.py                    # LFW's held-out people, by head turn
    python benchmarks/head_turn.py --panel runs/probes/fast --probe ckplus

The turn of each face is measured from BlazeFace's keypoints (mediapipe's Tasks face
detector on the full-range model of ``emotion-encoder fetch-models``, the image padded
as the encoder pads a tight crop): ``(nose x - eyes' mid x) / eye distance``, 0 for a
frontal face, about 0.5 where the far eye is about to hide. Prints, per bin, the faces,
the model's accuracy, its accuracy at the frontal bin's mix of classes (each class's
recall in the bin weighted by that class's share of the frontal faces: the bins' mixes
differ, LFW's turned faces are far more often disgust), its balanced accuracy (mean
per-class recall), the recall of the two commonest classes and the `fer` package's
accuracy on the same faces (its predictions from the panel's run; a face its Haar cascade
does not find is a miss, as in the panel). Faces the encoder found no face in are left
out (the panel counts them as misses).
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import cv2
import numpy as np

from emotion_encoder.faces import model_path

BINS = ((0.0, 0.1, "frontal"), (0.1, 0.2, "slightly turned"), (0.2, 0.35, "turned"),
        (0.35, np.inf, "far turned"))


def turn_of(detector, path: str) -> float | None:
    """The head turn of the best face in the image at ``path`` (None: no face found)."""
    import mediapipe as mp

    image = cv2.imread(path, cv2.IMREAD_COLOR)
    if image is None:
        return None
    pad = max(image.shape[:2]) // 2
    rgb = cv2.cvtColor(cv2.copyMakeBorder(image, pad, pad, pad, pad, cv2.BORDER_REPLICATE),
                       cv2.COLOR_BGR2RGB)
    found = detector.detect(mp.Image(image_format=mp.ImageFormat.SRGB, data=rgb)).detections
    if not found:
        return None
    best = max(found, key=lambda d: d.categories[0].score)
    right_eye, left_eye, nose = best.keypoints[:3]
    eyes = abs(left_eye.x - right_eye.x)
    return abs(nose.x - (left_eye.x + right_eye.x) / 2) / eyes if eyes > 0 else None


def read_predictions(path: Path) -> dict[str, tuple[str, str]]:
    """``sample -> (predicted, true)`` of a panel's predictions CSV."""
    with open(path, newline="") as handle:
        return {row["sample"]: (row["predicted"], row["true"]) for row in csv.DictReader(handle)}


def scores(rows: list[tuple[str, str]]) -> tuple[float, float]:
    """Accuracy and balanced accuracy of ``(predicted, true)`` pairs."""
    hits = [p == t for p, t in rows]
    return float(np.mean(hits)), float(np.mean(list(recalls(rows).values())))


def recalls(rows: list[tuple[str, str]]) -> dict[str, float]:
    """Each true class's recall among ``(predicted, true)`` pairs.

    >>> recalls([("a", "a"), ("b", "a"), ("b", "b")])
    {'a': 0.5, 'b': 1.0}
    """
    classes = sorted({t for _, t in rows})
    return {c: float(np.mean([p == t for p, t in rows if t == c])) for c in classes}


def at_mix(rows: list[tuple[str, str]], shares: dict[str, float]) -> float:
    """Accuracy of ``rows`` had their classes come in ``shares`` (each class's recall
    weighted by its share; classes ``rows`` lacks are left out and the rest renormalised).

    >>> at_mix([("a", "a"), ("b", "a"), ("b", "b")], {"a": 0.9, "b": 0.1})
    0.55
    """
    recall = recalls(rows)
    weights = {c: shares.get(c, 0.0) for c in recall}
    return round(sum(weights[c] * recall[c] for c in recall) / sum(weights.values()), 6)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--panel", type=Path, default=Path("runs/probes/default"),
                        help="a probe panel's report folder (python benchmarks/probes.py -o)")
    parser.add_argument("--probe", default="lfw", help="the probe's key in the panel")
    parser.add_argument("--fer", type=Path, help="where the panel keeps the `fer` package's "
                        "predictions (default: fer-package beside the panel's folder)")
    args = parser.parse_args()

    ours = read_predictions(args.panel / args.probe / "predictions.csv")
    fer_file = (args.fer or args.panel.parent / "fer-package") / args.probe / "fer-predictions.csv"
    theirs = read_predictions(fer_file) if fer_file.is_file() else {}
    from mediapipe.tasks.python import vision
    from mediapipe.tasks.python.core.base_options import BaseOptions

    options = vision.FaceDetectorOptions(
        base_options=BaseOptions(model_asset_path=str(model_path("blazeface_full"))),
        running_mode=vision.RunningMode.IMAGE)
    with vision.FaceDetector.create_from_options(options) as detector:
        turns = {sample: turn_of(detector, sample) for sample in ours}
    measured = [t for t in turns.values() if t is not None]
    print(f"{args.probe}: {len(ours)} faces, the turn measured on {len(measured)} "
          f"(median {np.median(measured):.2f})\n")
    binned = {name: [s for s, t in turns.items() if t is not None and lo <= t < hi]
              for lo, hi, name in BINS}
    frontal = [ours[s][1] for s in binned[BINS[0][2]]]
    shares = {c: frontal.count(c) / len(frontal) for c in set(frontal)}
    common = sorted(shares, key=shares.get, reverse=True)[:2]
    print("| head turn | faces | model | at the frontal mix | balanced | "
          + " | ".join(f"{c} recall" for c in common) + " | `fer` |\n" + "|---" * 8 + "|")
    for lo, hi, name in BINS:
        chosen = binned[name]
        if not chosen:
            continue
        rows = [ours[s] for s in chosen]
        acc, balanced = scores(rows)
        recall = recalls(rows)
        counts = {c: sum(t == c for _, t in rows) for c in common}
        peer = [theirs.get(s, ("", ours[s][1])) for s in chosen]  # no face found: a miss
        missed = sum(s not in theirs for s in chosen)
        peer_cell = f"{scores(peer)[0]:.1%} ({missed} no face)" if theirs else "-"
        print(f"| {name} ({lo:g}-{hi:g}) | {len(chosen)} | {acc:.1%} | "
              f"{at_mix(rows, shares):.1%} | {balanced:.1%} | "
              + " | ".join(f"{recall[c]:.0%} of {counts[c]}" if counts[c] else "-"
                           for c in common) + f" | {peer_cell} |")


if __name__ == "__main__":
    main()
