"""How accuracy falls as the head turns away: a probe's faces binned by how far the nose
sits off the eyes' midline, scored from the probe panel's own predictions.

    python benchmarks/probes.py --only lfw            # the panel's readings (once)
    python benchmarks/head_turn.py                    # LFW's held-out people, by head turn
    python benchmarks/head_turn.py --panel runs/probes/fast --probe ckplus

The turn of each face is measured from BlazeFace's keypoints (mediapipe's Tasks face
detector on the full-range model of ``emotion-encoder fetch-models``, the image padded
as the encoder pads a tight crop): ``(nose x - eyes' mid x) / eye distance``, 0 for a
frontal face, about 0.5 where the far eye is about to hide. Prints, per bin, the faces,
the model's accuracy and balanced accuracy (mean per-class recall) and the `fer`
package's accuracy on the same faces (its predictions from the panel's run; a face its
Haar cascade does not find is a miss, as in the panel). Faces the encoder found no face
in are left out (the panel counts them as misses).
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
    classes = sorted({t for _, t in rows})
    recall = [np.mean([p == t for p, t in rows if t == c]) for c in classes]
    return float(np.mean(hits)), float(np.mean(recall))


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
    print("| head turn | faces | model | balanced | `fer` |\n|---|---|---|---|---|")
    for lo, hi, name in BINS:
        chosen = [s for s, t in turns.items() if t is not None and lo <= t < hi]
        if not chosen:
            continue
        acc, balanced = scores([ours[s] for s in chosen])
        peer = [theirs.get(s, ("", ours[s][1])) for s in chosen]  # no face found: a miss
        missed = sum(s not in theirs for s in chosen)
        peer_cell = f"{scores(peer)[0]:.1%} ({missed} no face)" if theirs else "-"
        print(f"| {name} ({lo:g}-{hi:g}) | {len(chosen)} | {acc:.1%} | {balanced:.1%} | "
              f"{peer_cell} |")


if __name__ == "__main__":
    main()
