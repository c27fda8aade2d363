"""How far faces lean (roll: the angle of the line between the eyes) in the shared stills
and clips, from BlazeFace's eye keypoints: the case for eye-line alignment or rotation
augmentation.

    python benchmarks/face_roll.py [--stills 300]

Each still is padded by half its longer side (tight crops need context to be found); the
clips are sampled at 5 fps. Prints, per set, the faces found, the median and 90th
percentile of |roll| in degrees, and the share above 10 degrees.
"""

from __future__ import annotations

import argparse
import csv
import math
import random
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from emotion_encoder.faces import model_path
from emotion_encoder.video import open_source

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
STILLS = ("jaffe", "yale_expressions", "lfw_expressions")


def keypoint_detector():
    """MediaPipe's face detector (BlazeFace full range) with its six keypoints."""
    from mediapipe.tasks.python import vision
    from mediapipe.tasks.python.core.base_options import BaseOptions

    options = vision.FaceDetectorOptions(
        base_options=BaseOptions(model_asset_path=str(model_path("blazeface_full"))),
        running_mode=vision.RunningMode.IMAGE, min_detection_confidence=0.5)
    return vision.FaceDetector.create_from_options(options)


def roll(detector, rgb: np.ndarray) -> float | None:
    """Degrees from the right eye to the left eye of the surest face (None: no face)."""
    import mediapipe as mp

    pad = int(0.5 * max(rgb.shape[:2]))
    image = cv2.copyMakeBorder(rgb, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
    found = detector.detect(mp.Image(image_format=mp.ImageFormat.SRGB,
                                     data=np.ascontiguousarray(image))).detections
    if not found:
        return None
    right, left = found[0].keypoints[0], found[0].keypoints[1]
    h, w = image.shape[:2]
    return math.degrees(math.atan2((left.y - right.y) * h, (left.x - right.x) * w))


def row(name: str, angles: list[float | None]) -> str:
    found = np.abs([a for a in angles if a is not None])
    return (f"| {name} | {len(found)} of {len(angles)} | {np.median(found):.1f} | "
            f"{np.percentile(found, 90):.1f} | {np.mean(found > 10):.1%} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stills", type=int, default=300, help="stills per set (a sample)")
    args = parser.parse_args()
    detector = keypoint_detector()
    print("| set | faces | median abs roll (deg) | 90th percentile | above 10 deg |")
    print("|---|---|---|---|---|")
    for name in STILLS:
        labels = DATA / name / "labels.csv"
        if not labels.exists():
            continue
        with open(labels, newline="") as f:
            rows = list(csv.DictReader(f))
        random.Random(0).shuffle(rows)
        print(row(name, [roll(detector, np.asarray(Image.open(DATA / name / r["path"])
                                                   .convert("RGB")))
                         for r in rows[:args.stills]]), flush=True)
    for video in sorted((DATA / "videos").glob("*.mp4")):
        print(row(video.stem, [roll(detector, frame)
                               for _, frame in open_source(video).frames(5.0)]), flush=True)


if __name__ == "__main__":
    main()
