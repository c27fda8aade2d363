"""Cheaper faces: what detecting less often, or with the short-range model, costs in time
and changes in the results, on the real clips of ``../shared/data/videos``.

    python benchmarks/faces_speed.py

For each setting, in one run: the seconds of decode + face finding (the faces stage
alone, all clips), the seconds of ``predict`` end to end, the share of clips whose label
equals the default setting's (BlazeFace full range on every 2nd sampled frame, boxes
interpolated between detections), and the video labels of the two labelled MEAD clips.
"""

from __future__ import annotations

import time
from pathlib import Path

from emotion_encoder import EmotionEncoder

VIDEOS = sorted((Path(__file__).resolve().parents[2] / "shared" / "data" / "videos")
                .glob("*.mp4"))
SETTINGS = (("blazeface", 2), ("blazeface", 4), ("blazeface", 8), ("blazeface-short", 2),
            ("blazeface-short", 4))


def measure(detector: str, every: int) -> dict:
    encoder = EmotionEncoder(detector=detector, detect_every=every)
    encoder.predict(VIDEOS[0])  # warm-up: model traced, detector loaded
    faces_s = predict_s = 0.0
    labels, mead = [], {}
    for video in VIDEOS:
        t = time.perf_counter()
        _, clips = encoder.face_clips(video)
        for _ in clips:
            pass
        faces_s += time.perf_counter() - t
        t = time.perf_counter()
        prediction = encoder.predict(video)
        predict_s += time.perf_counter() - t
        labels.append([clip.label for clip in prediction.clips])
        if video.stem.startswith("mead_"):
            mead[video.stem] = prediction.video_label
    return {"faces_s": faces_s, "predict_s": predict_s, "labels": labels, "mead": mead}


def main() -> None:
    if not VIDEOS:
        raise SystemExit("../shared/data/videos has no clips")
    results = {setting: measure(*setting) for setting in SETTINGS}
    reference = results[SETTINGS[0]]
    print(f"{len(VIDEOS)} clips; agreement = clip labels equal to detector blazeface, every 2")
    print("| detector | detect every | faces stage | predict | clip labels as default | MEAD "
          "disgusted / happy |")
    print("|---|---|---|---|---|---|")
    for (detector, every), r in results.items():
        pairs = [(a, b) for got, ref in zip(r["labels"], reference["labels"])
                 for a, b in zip(got, ref)]
        same = sum(a == b for a, b in pairs) / max(1, len(pairs))
        print(f"| {detector} | {every} | {r['faces_s']:.2f} s "
              f"({r['faces_s'] / reference['faces_s']:.2f}x) | {r['predict_s']:.2f} s "
              f"({r['predict_s'] / reference['predict_s']:.2f}x) | {same:.1%} | "
              f"{r['mead'].get('mead_disgusted')} / {r['mead'].get('mead_happy')} |")


if __name__ == "__main__":
    main()
