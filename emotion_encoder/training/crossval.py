"""Subject-independent k-fold cross-validation of the temporal heads, and the ablation.

The backbone (inflated from still-face pretraining, as shipped in a preset's weights) is
frozen; each sequence becomes a 16-frame clip, its feature maps are computed once, and for
every fold a fresh head is trained on the training subjects and tested on the others. The
four configurations of the paper's Table 3 share the same folds and features.

    python -m emotion_encoder.training.crossval --data ../shared/data/ckplus --k 10
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from PIL import Image

from emotion_encoder import _runtime  # noqa: F401  (oneDNN before TF)
import keras

from emotion_encoder.data import Dataset, load_ckplus_cutdown, subject_kfold, summarize_folds
from emotion_encoder.data.protocols import CVSummary
from emotion_encoder.models.emotion_classifier import emotion_head
from emotion_encoder.models.loading import load_encoder_model
from emotion_encoder.models.presets import PRESETS, head_layers
from emotion_encoder.sampling import fixed_interval_indices
from emotion_encoder.training.heads import features_of
from emotion_encoder.training.motion_clips import moving_clip

ABLATIONS: dict[str, tuple[bool, bool]] = {
    "backbone only": (False, False),
    "+ ConvLSTM": (True, False),
    "+ Transformer": (False, True),
    "+ ConvLSTM + Transformer": (True, True),
}
PAPER_OULU_CASIA = {"backbone only": 84.05, "+ ConvLSTM": 87.19, "+ Transformer": 86.72,
                    "+ ConvLSTM + Transformer": 88.37}


def read_sequence(frames: tuple[Path, ...], size: int) -> np.ndarray:
    """A sample's frames as grey ``(n, size, size, 1)`` uint8."""
    return np.stack([np.asarray(Image.open(p).convert("L").resize((size, size)))
                     for p in frames])[..., None]


def sequence_features(backbone, dataset: Dataset, variants: int, seed: int = 0
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Features of each sample's static clip ``(n, ...)`` and of ``variants`` moving clips
    per sample ``(variants, n, ...)``."""
    frames = backbone.num_frames
    sequences = [read_sequence(s.frames, backbone.image_size) for s in dataset]
    rng = np.random.default_rng(seed)
    static = np.stack([seq[fixed_interval_indices(len(seq), frames)] for seq in sequences])
    moving = [np.stack([moving_clip(seq, frames, rng) for seq in sequences])
              for _ in range(variants)]
    return features_of(backbone, static), np.stack([features_of(backbone, m) for m in moving])


def train_fold_head(features: np.ndarray, y: np.ndarray, num_classes: int, head_config: dict,
                    epochs: int, seed: int) -> keras.Model:
    """A fresh head trained on one fold's training features (fixed epochs, no peeking)."""
    keras.utils.set_random_seed(seed)
    inputs = keras.Input(shape=features.shape[1:])
    head = keras.Model(inputs, emotion_head(inputs, num_classes, **head_config)["probs"])
    head.compile(optimizer=keras.optimizers.AdamW(1e-3, weight_decay=1e-4),
                 loss=keras.losses.CategoricalCrossentropy(label_smoothing=0.1))
    head.fit(features.astype(np.float32), keras.utils.to_categorical(y, num_classes),
             batch_size=32, epochs=epochs, shuffle=True, verbose=0)
    return head


def crossval(dataset: Dataset, model: str = "default", k: int = 10, epochs: int = 40,
             variants: int = 4, ablations: dict[str, tuple[bool, bool]] = ABLATIONS,
             seed: int = 0) -> dict[str, CVSummary]:
    """Mean/std accuracy over ``k`` subject-independent folds for each head configuration."""
    loaded = load_encoder_model(model)
    backbone = loaded.model.backbone
    static, moving = sequence_features(backbone, dataset, variants, seed)
    y = np.array([dataset.labels.index(s.label) for s in dataset])
    preset = loaded.preset if loaded.preset in PRESETS else "default"
    base = head_layers(preset)
    folds = subject_kfold(dataset, k=k, seed=seed)
    results = {}
    for name, (use_convlstm, use_transformer) in ablations.items():
        config = dict(base, use_convlstm=use_convlstm, use_transformer=use_transformer)
        accuracies = []
        for fold, (train, test) in enumerate(folds):
            x = np.concatenate([static[train], *moving[:, train]])
            head = train_fold_head(x, np.tile(y[train], 1 + variants), len(dataset.labels),
                                   config, epochs, seed + fold)
            predicted = np.argmax(head.predict(static[test].astype(np.float32), verbose=0), -1)
            accuracies.append(float(np.mean(predicted == y[test])))
        results[name] = summarize_folds(accuracies)
        print(f"{name:<26} {results[name].mean:.2%} +- {results[name].std:.2%}", flush=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="CK+ (cut-down layout) folder")
    parser.add_argument("--model", default="default", help="preset or .keras file")
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--variants", type=int, default=4, help="moving clips per sequence")
    parser.add_argument("--contempt", choices=["keep", "drop"], default="keep")
    parser.add_argument("--out", type=Path, help="write the table as JSON here")
    args = parser.parse_args()
    dataset = load_ckplus_cutdown(args.data, contempt=args.contempt)
    results = crossval(dataset, args.model, args.k, args.epochs, args.variants)
    print(f"\n{args.k}-fold subject-independent accuracy on {dataset.name} "
          f"({len(dataset)} sequences, {len(dataset.labels)} classes) vs the paper (Oulu-CASIA):")
    print(f"{'configuration':<26} {'ours':>16} {'paper':>7}")
    for name, summary in results.items():
        print(f"{name:<26} {summary.mean:>8.2%} +- {summary.std:>4.1%} {PAPER_OULU_CASIA[name]:>6.2f}%")
    if args.out:
        args.out.write_text(json.dumps({n: s._asdict() for n, s in results.items()}, indent=2))


if __name__ == "__main__":
    main()
