"""Cheaper faces: what detecting less often, or with the short-range model, costs in time
and changes in the results, on the real clips of ``../shared/data/videos``.

    python benchmarks/faces_speed.py [--only blazeface/2/fixed blazeface/2/adaptive ...]

The reference is the most careful setting: BlazeFace full range on every sampled frame,
on mediapipe's Tasks runtime (``blazeface-mediapipe``); ``blazeface`` (the default) runs
the same model on the LiteRT interpreter.
For each setting, in one run: the faces stage alone (decode, detection, tracking and
cropping of all clips; seconds, and milliseconds per sampled frame), ``predict`` end to
end, how far its face boxes are from the reference's (mean IoU over the frames both have
a face, and the 5th percentile), the share of clips whose label equals the reference's,
and the video labels of the two labelled MEAD clips. Boxes between two detections are
interpolated (:class:`emotion_encoder.faces.DominantFaceTracker`); with adaptive
keyframes (``keyframes="adaptive"``) the detector runs on every 2k-th sampled frame and on
the k-th between only where the faces moved. Each setting runs with one detector and with
two detecting the next keyframes in threads (``detector_threads``, the default 2: the same
boxes, so only the time may differ). ``--only`` runs the reference and the settings named
``DETECTOR/EVERY/KEYFRAMES`` (both thread counts).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from emotion_encoder import EmotionEncoder
from emotion_encoder.faces import box_iou

VIDEOS = sorted((Path(__file__).resolve().parents[2] / "shared" / "data" / "videos")
                .glob("*.mp4"))
SETTINGS = tuple((detector, every, keyframes, threads) for detector, every, keyframes in (
    ("blazeface-mediapipe", 1, "fixed"), ("blazeface-mediapipe", 2, "fixed"),
    ("blazeface", 1, "fixed"), ("blazeface", 2, "fixed"), ("blazeface", 3, "fixed"),
    ("blazeface", 4, "fixed"), ("blazeface", 8, "fixed"), ("blazeface", 1, "adaptive"),
    ("blazeface", 2, "adaptive"), ("blazeface", 4, "adaptive"), ("blazeface-short", 2, "fixed"),
    ("blazeface-short", 4, "fixed")) for threads in (1, 2))


def measure(detector: str, every: int, keyframes: str, threads: int) -> dict:
    """Time the faces stage and ``predict`` of every clip under one setting."""
    encoder = EmotionEncoder(detector=detector, detect_every=every, keyframes=keyframes,
                             detector_threads=threads)
    encoder.predict(VIDEOS[0])  # warm-up: model traced, detector loaded
    faces_s = predict_s = 0.0
    labels, boxes, mead = [], [], {}
    for video in VIDEOS:
        seen: list = []
        t = time.perf_counter()
        _, clips = encoder.face_clips(video, on_frame=lambda f: seen.append(f.box))
        for _ in clips:
            pass
        faces_s += time.perf_counter() - t
        boxes.append(seen)
        t = time.perf_counter()
        prediction = encoder.predict(video)
        predict_s += time.perf_counter() - t
        labels.append([clip.label for clip in prediction.clips])
        if video.stem.startswith("mead_"):
            mead[video.stem] = prediction.video_label
    return {"faces_s": faces_s, "predict_s": predict_s, "labels": labels, "boxes": boxes,
            "mead": mead}


def box_agreement(boxes: list[list], reference: list[list]) -> tuple[float, float, int]:
    """Mean and 5th-percentile IoU with the reference's boxes, and the frames where exactly
    one of the two has a face."""
    ious, missed = [], 0
    for got, ref in zip(boxes, reference):
        for a, b in zip(got, ref):
            if a is None or b is None:
                missed += (a is None) != (b is None)
            else:
                ious.append(box_iou(a, b))
    return float(np.mean(ious)), float(np.percentile(ious, 5)), missed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="+", metavar="DETECTOR/EVERY/KEYFRAMES",
                        help="run the reference and these settings only")
    args = parser.parse_args()
    if not VIDEOS:
        raise SystemExit("../shared/data/videos has no clips")
    chosen = [s for s in SETTINGS if s == SETTINGS[0] or args.only is None
              or "/".join(map(str, s[:3])) in args.only]
    results = {setting: measure(*setting) for setting in chosen}
    reference = results[SETTINGS[0]]
    frames = sum(len(b) for b in reference["boxes"])
    print(f"{len(VIDEOS)} clips, {frames} sampled frames; reference = {SETTINGS[0][0]} on "
          "every frame, one detector thread")
    print("| detector | detect every | keyframes | detector threads | faces stage | per frame | "
          "predict | box IoU with reference (mean / 5th pct) | face found by one only | clip "
          "labels as reference | MEAD disgusted / happy |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for (detector, every, keyframes, threads), r in results.items():
        pairs = [(a, b) for got, ref in zip(r["labels"], reference["labels"])
                 for a, b in zip(got, ref)]
        same = sum(a == b for a, b in pairs) / max(1, len(pairs))
        mean_iou, low_iou, missed = box_agreement(r["boxes"], reference["boxes"])
        print(f"| {detector} | {every} | {keyframes} | {threads} | {r['faces_s']:.2f} s "
              f"({r['faces_s'] / reference['faces_s']:.2f}x) | "
              f"{1000 * r['faces_s'] / frames:.1f} ms | {r['predict_s']:.2f} s "
              f"({r['predict_s'] / reference['predict_s']:.2f}x) | {mean_iou:.3f} / "
              f"{low_iou:.3f} | {missed} | {same:.1%} | "
              f"{r['mead'].get('mead_disgusted')} / {r['mead'].get('mead_happy')} |")


if __name__ == "__main__":
    main()
