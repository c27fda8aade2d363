"""Accuracy of a model on the real data in ../shared/data, printed as tables.

    python benchmarks/accuracy.py                       # the shipped default preset
    python benchmarks/accuracy.py --model run/model.keras

- FER2013 test split (PrivateTest, 3,589 faces): each face as a static 16-frame clip, with
  and without mirror averaging (``emotion-encoder evaluate MODEL fer2013``).
- CK+ apex frames, all 327 sequences: each sequence's peak frames as one clip; contempt is
  not a model label and is counted as skipped. Cross-dataset for `fast`; the `default`
  trained on 70% of CK+'s subjects, so for it only the held-out 20% in
  ``benchmarks/probes.py`` is a fair score.
- Labelled real videos (../shared/data/videos/labels.csv): whole-video label through the
  full pipeline (decode, BlazeFace, tracking, sliding windows).

The reports (metrics.json, confusion matrix CSV and PNG, predictions) go to
``runs/accuracy/<preset>/`` (``runs/accuracy/<run folder>/`` for a ``.keras`` file).
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

from emotion_encoder.evaluation import evaluate
from emotion_encoder.labels import normalize_label

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
REFERENCE = {"fer2013": "best single nets ~73.3%; fer package ~66%; humans ~65%",
             "fer2013 + mirror": "the encoder's default (mirror=True)",
             "ckplus": "all of CK+: cross-dataset for fast; default trained on 70% of its "
                       "subjects (probes.py scores the held-out 20%)"}


def videos(model: str) -> None:
    from emotion_encoder.encoder import EmotionEncoder

    encoder = EmotionEncoder(model)
    print("\nlabelled videos (whole-video label, full pipeline):")
    with open(DATA / "videos" / "labels.csv") as handle:
        for row in csv.DictReader(handle):
            if not row["label"]:
                continue
            result = encoder.predict(DATA / "videos" / row["path"])
            truth = normalize_label(row["label"])
            print(f"{row['path']:<22} truth {truth:<10} predicted {result.video_label:<10} "
                  f"({result.video_probs[result.video_label]:.2f}) "
                  f"{'ok' if result.video_label == truth else 'WRONG'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="default", help="preset name or .keras file")
    args = parser.parse_args()
    if not DATA.exists():
        raise SystemExit(f"{DATA}: data folder not found")
    model = Path(args.model)  # a .keras file is named by its run folder
    out = Path("runs") / "accuracy" / (model.parent if model.suffix == ".keras" else model).name
    for name, data, mirror in (("fer2013", "fer2013", False), ("fer2013 + mirror", "fer2013", True),
                               ("ckplus", "ckplus", True)):
        report = evaluate(args.model, DATA / data, out / name.replace(" + ", "-"), mirror=mirror)
        print(f"\n{name} ({REFERENCE[name]}):\n{report.table()}")
    videos(args.model)


if __name__ == "__main__":
    main()
