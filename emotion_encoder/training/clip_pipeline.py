"""``tf.data`` pipelines of fixed-length clips cut from cached face sequences.

Training clips get temporal jitter (a random span of the sequence, 50-100% of it, read at
a random start, so speed and phase vary) and spatial jitter that moves smoothly through
the clip (shift, zoom, rotation, brightness: :func:`moving_clip`, which also flips half of
the clips) plus contrast jitter. Evaluation clips are the paper's fixed-interval sampling
of the whole sequence. Frames are standardised one by one, as at inference.

>>> ds = clip_dataset(faces, frames=16, batch_size=8, training=True)   # doctest: +SKIP
>>> x, y = next(iter(ds)); x.shape                                     # doctest: +SKIP
TensorShape([8, 16, 48, 48, 1])
"""

from __future__ import annotations

import itertools
from typing import Iterator

import numpy as np

from emotion_encoder import _runtime  # noqa: F401  (oneDNN before TF)
import tensorflow as tf

from emotion_encoder.sampling import fixed_interval_indices
from emotion_encoder.face_cache import FaceSequences
from emotion_encoder.training.motion_clips import moving_clip
from emotion_encoder.models.preprocessor import standardize, to_channels


def jittered_indices(n_items: int, frames: int, rng: np.random.Generator,
                     min_span: float = 0.5) -> np.ndarray:
    """``frames`` indices evenly spaced over a random span covering ``min_span``-100% of
    ``n_items`` (indices repeat when the span is shorter than ``frames``).

    >>> idx = jittered_indices(100, 16, np.random.default_rng(0))
    >>> len(idx), bool(np.all(np.diff(idx) >= 0)), bool(0 <= idx[0] and idx[-1] < 100)
    (16, True, True)
    """
    span = max(1, int(round(n_items * rng.uniform(min_span, 1.0))))
    start = int(rng.integers(0, n_items - span + 1))
    return start + fixed_interval_indices(span, frames)


def training_clip(sequence: np.ndarray, frames: int, rng: np.random.Generator) -> np.ndarray:
    """One augmented uint8 clip ``(frames, h, w, c)`` of a face sequence."""
    picked = sequence[jittered_indices(len(sequence), frames, rng)]
    clip = moving_clip(picked, frames, rng).astype(np.float32)
    mean = clip.mean()
    contrast = rng.uniform(0.7, 1.3)
    return np.clip((clip - mean) * contrast + mean, 0, 255).astype(np.uint8)


def evaluation_clip(sequence: np.ndarray, frames: int) -> np.ndarray:
    """The fixed-interval clip of the whole sequence (the paper's sampling)."""
    return sequence[fixed_interval_indices(len(sequence), frames)]


def clip_dataset(faces: FaceSequences, frames: int, batch_size: int, training: bool,
                 channels: int | None = None, seed: int = 0) -> tf.data.Dataset:
    """Batches of ``(clips, one_hot_labels)``; training batches are shuffled and augmented
    afresh every epoch. ``channels`` repeats grey crops for an RGB network."""
    height, width, have = faces.sequences[0].shape[1:]
    channels = channels or have
    num_classes = len(faces.label_names)

    epochs = itertools.count()

    def generate() -> Iterator[tuple[np.ndarray, int]]:
        rng = np.random.default_rng([seed, next(epochs)])
        order = rng.permutation(len(faces)) if training else range(len(faces))
        for i in order:
            sequence = faces.sequences[i]
            clip = training_clip(sequence, frames, rng) if training else \
                evaluation_clip(sequence, frames)
            yield clip, int(faces.labels[i])

    signature = (tf.TensorSpec((frames, height, width, have), tf.uint8),
                 tf.TensorSpec((), tf.int64))
    ds = tf.data.Dataset.from_generator(generate, output_signature=signature)
    ds = ds.apply(tf.data.experimental.assert_cardinality(len(faces)))  # fit knows the steps

    def prepare(clip, label):
        return to_channels(standardize(clip), channels), tf.one_hot(label, num_classes)

    return ds.map(prepare, tf.data.AUTOTUNE).batch(batch_size).prefetch(2)
