"""CK+ 10-fold with a frozen backbone: does each subject's neutral face, as a reference, help?

Every sequence of the neutral-to-apex CK+ set is read as two static clips, its peak frames
and its neutral first frame repeated; the backbone's feature maps are averaged over time and
space (and over each clip and its mirror image). Per subject-independent fold (the folds of
``emotion_encoder.training.crossval``), a class-balanced softmax regression is trained on
the apex features alone, and on the apex features beside their difference from the
subject's neutral features (the mean over the subject's first frames; a subject without
one uses the mean of its apex features). The weights must never have seen CK+: stage A's
FER2013-only ``default`` is in git.

    python -m emotion_encoder.data.ckplus_onset ../shared/data/ckplus runs/ckplus-onset
    git show b2cafb5:emotion_encoder/weights/default.weights.h5 > runs/stage-a.weights.h5
    python benchmarks/ckplus_reference.py runs/ckplus-onset --weights runs/stage-a.weights.h5
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from emotion_encoder.data import load_ckplus_cutdown, subject_kfold, summarize_folds
from emotion_encoder.models.loading import build_model  # turns oneDNN on before TF loads
from emotion_encoder.sampling import fixed_interval_indices
from emotion_encoder.training.crossval import read_sequence
from emotion_encoder.training.heads import features_of
import keras  # noqa: E402  (after the package, which sets TensorFlow's options)


def pooled_features(backbone, clips: np.ndarray) -> np.ndarray:
    """``(n, channels)`` features of ``(n, t, h, w, 1)`` uint8 clips: the backbone's maps
    averaged over time and space, and over each clip and its mirror image."""
    def pooled(x: np.ndarray) -> np.ndarray:
        maps = features_of(backbone, x).astype(np.float32)
        return maps.reshape(len(x), -1, maps.shape[-1]).mean(1)
    return (pooled(clips) + pooled(clips[:, :, :, ::-1])) / 2


def subject_reference(neutral: np.ndarray, has_neutral: np.ndarray, apex: np.ndarray,
                      subjects: np.ndarray) -> np.ndarray:
    """Each sample's reference: the mean neutral features of its subject (of its apex
    features where the subject has no neutral frame).

    >>> subject_reference(np.array([[1.], [3.], [9.]]), np.array([True, True, False]),
    ...                   np.array([[5.], [5.], [7.]]), np.array(["a", "a", "b"])).ravel()
    array([2., 2., 7.])
    """
    reference = np.empty_like(apex)
    for subject in np.unique(subjects):
        mine = subjects == subject
        known = mine & has_neutral
        reference[mine] = neutral[known].mean(0) if known.any() else apex[mine].mean(0)
    return reference


def fold_accuracies(x: np.ndarray, y: np.ndarray, folds, num_classes: int,
                    epochs: int = 200, l2: float = 1e-3, seed: int = 0) -> list[float]:
    """Test accuracy per fold of a class-balanced softmax regression on standardised ``x``."""
    accuracies = []
    for fold, (train, test) in enumerate(folds):
        mean, std = x[train].mean(0), x[train].std(0) + 1e-6
        keras.utils.set_random_seed(seed + fold)
        model = keras.Sequential([keras.Input((x.shape[1],)), keras.layers.Dense(
            num_classes, activation="softmax", kernel_regularizer=keras.regularizers.L2(l2))])
        model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="sparse_categorical_crossentropy")
        counts = np.bincount(y[train], minlength=num_classes)
        weights = {c: len(train) / (num_classes * max(n, 1)) for c, n in enumerate(counts)}
        model.fit((x[train] - mean) / std, y[train], batch_size=len(train), epochs=epochs,
                  class_weight=weights, verbose=0)
        predicted = model.predict((x[test] - mean) / std, verbose=0).argmax(-1)
        accuracies.append(float(np.mean(predicted == y[test])))
    return accuracies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data", type=Path, help="neutral-to-apex CK+ folder (ckplus_onset)")
    parser.add_argument("--weights", type=Path, required=True,
                        help="`default` weights that never saw CK+")
    args = parser.parse_args()
    dataset = load_ckplus_cutdown(args.data, contempt="keep")
    model = build_model("default")
    model.load_weights(args.weights)
    backbone = model.backbone
    apex_clips, neutral_clips, has_neutral = [], [], []
    for sample in dataset:
        frames = read_sequence(sample.frames, backbone.image_size)
        first_is_neutral = sample.frames[0].parent.name == "first"
        peaks = frames[1:] if first_is_neutral else frames
        apex_clips.append(peaks[fixed_interval_indices(len(peaks), backbone.num_frames)])
        neutral_clips.append(np.repeat(frames[:1], backbone.num_frames, 0))
        has_neutral.append(first_is_neutral)
    apex = pooled_features(backbone, np.stack(apex_clips))
    neutral = pooled_features(backbone, np.stack(neutral_clips))
    subjects = np.array([s.subject for s in dataset])
    reference = subject_reference(neutral, np.array(has_neutral), apex, subjects)
    y = np.array([dataset.labels.index(s.label) for s in dataset])
    folds = subject_kfold(dataset, k=10, seed=0)
    print(f"{dataset.name}: {len(dataset)} sequences, {sum(has_neutral)} with a neutral frame")
    for name, x in {"apex": apex,
                    "apex and apex - neutral": np.concatenate([apex, apex - reference], 1)}.items():
        summary = summarize_folds(fold_accuracies(x, y, folds, len(dataset.labels)))
        print(f"{name:<26} {summary.mean:.2%} +- {summary.std:.1%}")


if __name__ == "__main__":
    main()
