"""Cheaper faces: what detecting less often, or with the short-range model, costs in time
and changes in the results, on the real clips of ``../shared/data/videos``.

    python benchmarks/faces_speed.py

The reference is the most careful setting: BlazeFace full range on every sampled frame,
on mediapipe's Tasks runtime (``blazeface-mediapipe``); ``blazeface`` (the default) runs
the same model on the LiteRT interpreter.
For each setting, in one run: the faces stage alone (decode, detection, tracking and
cropping of all clips; seconds, and milliseconds per sampled frame), ``predict`` end to
end, how far its face boxes are from the reference's (mean IoU over the frames both have
a face, and the 5th percentile), the share of clips whose label equals the reference's,
and the video labels of the two labelled MEAD clips. Boxes between two detections are
interpolated (:class:`emotion_encoder.faces.DominantFaceTracker`). Each setting runs with
one detector and with two detecting the next keyframes in threads (``detector_threads``,
the default 2: the same boxes, so only the time may differ).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from emotion_encoder import EmotionEncoder
from emotion_encoder.faces import box_iou

VIDEOS = sorted((Path(__file__).resolve().parents[2] / "shared" / "data" / "videos")
                .glob("*.mp4"))
SETTINGS = tuple((detector, every, threads) for detector, every in (
    ("blazeface-mediapipe", 1), ("blazeface-mediapipe", 2),
    ("blazeface", 1), ("blazeface", 2), ("blazeface", 3), ("blazeface", 4), ("blazeface", 8),
    ("blazeface-short", 2), ("blazeface-short", 4)) for threads in (1, 2))


def measure(detector: str, every: int, threads: int) -> dict:
    """Time the faces stage and ``predict`` of every clip under one setting."""
    encoder = EmotionEncoder(detector=detector, detect_every=every, detector_threads=threads)
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
    if not VIDEOS:
        raise SystemExit("../shared/data/videos has no clips")
    results = {setting: measure(*setting) for setting in SETTINGS}
    reference = results[SETTINGS[0]]
    frames = sum(len(b) for b in reference["boxes"])
    print(f"{len(VIDEOS)} clips, {frames} sampled frames; reference = {SETTINGS[0][0]} on "
          "every frame, one detector thread")
    print("| detector | detect every | detector threads | faces stage | per frame | predict | "
          "box IoU with reference (mean / 5th pct) | face found by one only | clip labels as "
          "reference | MEAD disgusted / happy |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for (detector, every, threads), r in results.items():
        pairs = [(a, b) for got, ref in zip(r["labels"], reference["labels"])
                 for a, b in zip(got, ref)]
        same = sum(a == b for a, b in pairs) / max(1, len(pairs))
        mean_iou, low_iou, missed = box_agreement(r["boxes"], reference["boxes"])
        print(f"| {detector} | {every} | {threads} | {r['faces_s']:.2f} s "
              f"({r['faces_s'] / reference['faces_s']:.2f}x) | "
              f"{1000 * r['faces_s'] / frames:.1f} ms | {r['predict_s']:.2f} s "
              f"({r['predict_s'] / reference['predict_s']:.2f}x) | {mean_iou:.3f} / "
              f"{low_iou:.3f} | {missed} | {same:.1%} | "
              f"{r['mead'].get('mead_disgusted')} / {r['mead'].get('mead_happy')} |")


if __name__ == "__main__":
    main()
