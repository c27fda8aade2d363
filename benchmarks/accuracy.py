"""Accuracy of a model on the real data in ../shared/data, printed as tables.

    python benchmarks/accuracy.py                       # the shipped default preset
    python benchmarks/accuracy.py --model run/model.keras

- FER2013 test split (PrivateTest, 3,589 faces): each face as a static 16-frame clip.
- CK+ apex frames (cross-dataset: the default model never saw CK+): each sequence's
  peak frames as one clip, contempt excluded (not among the 7 labels).
- Labelled real videos (../shared/data/videos/labels.csv): whole-video label through
  the full pipeline (decode, BlazeFace, tracking, sliding windows).
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import numpy as np

from emotion_encoder import _runtime  # noqa: F401  (oneDNN before TF)

from emotion_encoder.labels import normalize_label
from emotion_encoder.models.loading import load_encoder_model
from emotion_encoder.sampling import fixed_interval_indices
from emotion_encoder.training.heads import standardize_frames
from emotion_encoder.data import load_image_folder

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
PUBLISHED = {"fer2013": "best single nets ~73.3%; fer package ~66%; humans ~65%",
             "fer2013 + mirror": "the encoder's default (mirror=True)",
             "ckplus": "cross-dataset, never trained on CK+; published 98-99.7% are within-dataset"}


def predict_clips(model, clips: np.ndarray, mirror: bool, batch_size: int = 32) -> np.ndarray:
    """Label indices of ``(n, t, h, w, 1)`` uint8 clips (averaged with their mirror image,
    as ``EmotionEncoder(mirror=True)`` does)."""
    out = []
    for start in range(0, len(clips), batch_size):
        batch = standardize_frames(clips[start:start + batch_size])
        probs = model(batch, training=False)["probs"].numpy()
        if mirror:
            probs = probs + model(batch[:, :, :, ::-1], training=False)["probs"].numpy()
        out.append(np.argmax(probs, axis=-1))
    return np.concatenate(out)


def report(name: str, y_true: np.ndarray, y_pred: np.ndarray, labels: tuple[str, ...]) -> float:
    accuracy = float(np.mean(y_true == y_pred))
    print(f"\n{name}: accuracy {accuracy:.2%} on {len(y_true)} items ({PUBLISHED.get(name, '')})")
    print(f"{'label':<10} {'n':>5} {'recall':>7}")
    for i, label in enumerate(labels):
        mask = y_true == i
        if mask.any():
            print(f"{label:<10} {mask.sum():>5} {np.mean(y_pred[mask] == i):>7.2%}")
    return accuracy


def fer2013(model, labels, frames: int) -> None:
    x, y = load_image_folder(DATA / "fer2013" / "test", model.backbone.image_size, labels)
    clips = np.repeat(x[:, None], frames, axis=1)
    report("fer2013", y, predict_clips(model, clips, mirror=False), labels)
    report("fer2013 + mirror", y, predict_clips(model, clips, mirror=True), labels)


def ckplus(model, labels, frames: int) -> None:
    from PIL import Image

    size = model.backbone.image_size
    clips, y = [], []
    with open(DATA / "ckplus" / "sequences.csv") as handle:
        for row in csv.DictReader(handle):
            label = normalize_label(row["label"])
            if label not in labels:
                continue
            peaks = [np.asarray(Image.open(DATA / "ckplus" / p).convert("L").resize((size, size)))
                     for p in row["peak_frames"].split(";")]
            clips.append(np.stack([peaks[i] for i in fixed_interval_indices(len(peaks), frames)]))
            y.append(labels.index(label))
    report("ckplus", np.array(y), predict_clips(model, np.stack(clips)[..., None], True), labels)


def videos(preset: str) -> None:
    from emotion_encoder.encoder import EmotionEncoder

    encoder = EmotionEncoder(preset)
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
    loaded = load_encoder_model(args.model)
    if not loaded.weights_trained:
        print("warning: the model has no trained weights; the numbers below are chance level")
    model, labels = loaded.model, tuple(loaded.model.labels)
    frames = model.backbone.num_frames
    fer2013(model, labels, frames)
    ckplus(model, labels, frames)
    videos(args.model)


if __name__ == "__main__":
    main()
