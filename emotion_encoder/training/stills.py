"""Stage 1 of the recipe: pretrain the 2D twin of a preset's backbone on still faces.

Still-face sets (FER2013) are far larger than video sets, and a 2D network is ~10x cheaper
to train than its 3D counterpart. The 2D twin shares every layer name with the 3D backbone,
so its weights inflate into the video network afterwards. Runs resume from the last
epoch's checkpoint. ``mixup`` and ``erasing`` regularise wide nets that overfit the 28,709
FER2013 training faces.

    python -m emotion_encoder.training.stills --data ../shared/data/fer2013 \\
        --preset default --epochs 30 --out runs/stills-default
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np

from emotion_encoder import _runtime  # noqa: F401  (oneDNN before TF)
import keras
import tensorflow as tf

from emotion_encoder.atomic import atomic_path
from emotion_encoder.data.fer2013 import load_image_folder
from emotion_encoder.errors import EmotionEncoderError
from emotion_encoder.labels import CANONICAL_LABELS
from emotion_encoder.models.preprocessor import standardize, to_channels
from emotion_encoder.models.presets import PRESETS
from emotion_encoder.models.still_classifier import build_still_classifier


def augment(x: tf.Tensor, size: int) -> tf.Tensor:
    """Flip, scale/crop jitter, brightness and contrast jitter (rotation: :func:`rotate`)."""
    x = tf.image.random_flip_left_right(x)
    crop = tf.random.uniform([], int(size * 0.8), size + 1, dtype=tf.int32)
    x = tf.image.random_crop(x, [crop, crop, 1])
    x = tf.image.resize(x, [size, size])
    x = tf.image.random_brightness(x, 32.0)
    x = tf.image.random_contrast(x, 0.7, 1.3)
    return x


def random_gamma(x: tf.Tensor, gamma: float) -> tf.Tensor:
    """A gamma curve ``255 (v / 255) ** g``, ``log g`` uniform in ``+-log gamma``, on a face
    of values in 0-255 (before brightness and contrast jitter; shadows lifted or deepened).

    >>> float(random_gamma(tf.fill([2, 2, 1], 255.0), 2.0)[0, 0, 0])
    255.0
    """
    g = tf.exp(tf.random.uniform([], -np.log(gamma), np.log(gamma)))
    return 255.0 * tf.pow(tf.clip_by_value(tf.cast(x, tf.float32), 0.0, 255.0) / 255.0, g)


def rotate(x: tf.Tensor, degrees: float) -> tf.Tensor:
    """Rotate a face ``(h, w, 1)`` by a uniform random angle in +-``degrees`` about its
    centre, the corners filled by reflection (faces in films and photos lean: median roll
    1.5-11 degrees, 90th percentile 3-28 on the shared sets and clips:
    `benchmarks/face_roll.py`).

    >>> x = tf.reshape(tf.range(16, dtype=tf.float32), (4, 4, 1))
    >>> bool(tf.reduce_all(rotate(x, 0.0) == x)), tuple(rotate(x, 15.0).shape)
    (True, (4, 4, 1))
    """
    x = tf.convert_to_tensor(x)
    if degrees <= 0:
        return x
    angle = tf.random.uniform([], -degrees, degrees) * (math.pi / 180.0)
    h, w = float(x.shape[0]), float(x.shape[1])
    cos, sin = tf.cos(angle), tf.sin(angle)
    cx, cy = 0.5 * (w - 1.0), 0.5 * (h - 1.0)
    # output pixel (x, y) samples input (a0 x + a1 y + a2, b0 x + b1 y + b2)
    transform = tf.stack([cos, -sin, cx - cos * cx + sin * cy,
                          sin, cos, cy - sin * cx - cos * cy, 0.0, 0.0])[None]
    out = tf.raw_ops.ImageProjectiveTransformV3(
        images=x[None], transforms=transform, output_shape=tf.shape(x)[:2],
        fill_value=0.0, interpolation="BILINEAR", fill_mode="REFLECT")
    return out[0]


def turn_columns(width: int, angle: tf.Tensor, radius: float = 0.45) -> tf.Tensor:
    """Where each output column of a face ``width`` pixels wide turned by ``angle`` radians
    about a vertical axis samples the frontal face (fractional columns): the face is a
    vertical cylinder of ``radius`` times the width about the centre, rotated and seen
    from the front (the nose moves towards the turn, the far cheek narrows and hides, the
    near side of the head comes into view); outside the cylinder the picture shifts.

    >>> [round(float(c), 2) for c in turn_columns(5, tf.constant(0.0))]
    [0.0, 1.0, 2.0, 3.0, 4.0]
    >>> float(turn_columns(5, tf.constant(0.5))[2]) < 2.0   # the middle shows the far cheek
    True
    """
    centre, r = 0.5 * (width - 1.0), radius * width
    u = (tf.range(width, dtype=tf.float32) - centre) / r

    def surface(a):  # where a point at angle ``a`` of the turned cylinder was, in radii
        half = 0.5 * math.pi
        return tf.where(a < -half, a + half - 1.0,
                        tf.where(a > half, a - half + 1.0, tf.sin(a)))

    on = surface(tf.asin(tf.clip_by_value(u, -1.0, 1.0)) - angle)
    left = surface(-0.5 * math.pi - angle) + (u + 1.0)
    right = surface(0.5 * math.pi - angle) + (u - 1.0)
    src = tf.where(u < -1.0, left, tf.where(u > 1.0, right, on))
    return centre + r * src


def head_turn(x: tf.Tensor, degrees: float, probability: float = 0.5) -> tf.Tensor:
    """With ``probability``, turn a face ``(h, w, c)`` away by a uniform angle within
    +-``degrees`` (:func:`turn_columns`; beyond the edges the picture reflects). The sets'
    faces are nearly all frontal, and a turned head costs accuracy (LFW's held-out people:
    87.4% frontal, 78.9% turned, 52.3% far turned; `benchmarks/head_turn.py`).

    >>> x = tf.reshape(tf.range(12, dtype=tf.float32), (1, 12, 1))
    >>> np.allclose(head_turn(x, 30.0, probability=0.0), x, atol=1e-3)
    True
    """
    x = tf.cast(tf.convert_to_tensor(x), tf.float32)
    width = int(x.shape[1])
    angle = tf.random.uniform([], -degrees, degrees) * (math.pi / 180.0)
    angle *= tf.cast(tf.random.uniform([]) < probability, tf.float32)
    cols = tf.abs(turn_columns(width, angle))
    cols = tf.minimum(cols, 2.0 * (width - 1.0) - cols)
    lo = tf.minimum(tf.cast(tf.floor(cols), tf.int32), width - 2)
    frac = (cols - tf.cast(lo, tf.float32))[None, :, None]
    return tf.gather(x, lo, axis=1) * (1.0 - frac) + tf.gather(x, lo + 1, axis=1) * frac


def random_erasing(x: tf.Tensor, probability: float) -> tf.Tensor:
    """With ``probability``, fill one random rectangle (2-25% of the image) with noise.

    Zhong et al. 2020: occlusion (hands, hair, glasses) forces the net to use every part
    of the face. ``x`` is one ``(h, w, c)`` image in the 0-255 range.
    """
    shape = tf.shape(x)
    h, w = shape[0], shape[1]
    area = tf.random.uniform([], 0.02, 0.25) * tf.cast(h * w, tf.float32)
    aspect = tf.exp(tf.random.uniform([], np.log(0.3), np.log(3.3)))
    eh = tf.clip_by_value(tf.cast(tf.sqrt(area * aspect), tf.int32), 1, h)
    ew = tf.clip_by_value(tf.cast(tf.sqrt(area / aspect), tf.int32), 1, w)
    top = tf.random.uniform([], 0, h - eh + 1, dtype=tf.int32)
    left = tf.random.uniform([], 0, w - ew + 1, dtype=tf.int32)
    rows, cols = tf.range(h)[:, None, None], tf.range(w)[None, :, None]
    inside = (rows >= top) & (rows < top + eh) & (cols >= left) & (cols < left + ew)
    erase = inside & (tf.random.uniform([]) < probability)
    return tf.where(erase, tf.random.uniform(shape, 0.0, 255.0), tf.cast(x, tf.float32))


def mouth_swap(x: tf.Tensor, probability: float) -> tf.Tensor:
    """With ``probability``, give each face of a batch ``(n, h, w, c)`` the lower face (mouth
    and jaw: from 60-70% of the height down, the middle 40-70% of the width, edges
    feathered over 2 px) of another face of the batch, and keep its own label.

    A talking face's mouth moves with the words, not with the emotion: a net that reads
    surprise or fear from an open mouth misreads speech. Swapped mouths teach it to read
    the emotion from the brows and eyes too. In the encoder's crops (the face box enlarged
    20%, shifted up 5%) BlazeFace's keypoints put the eyes at 41% of the height, the nose
    tip at 60% and the mouth at 76% (JAFFE, Yale and LFW within a point of each other).

    >>> x = tf.stack([tf.zeros((8, 8, 1)), tf.ones((8, 8, 1))])
    >>> y = mouth_swap(x, 1.0)
    >>> float(y[0, 0, 4, 0]), float(y[0, 7, 4, 0]), float(y[1, 7, 4, 0])
    (0.0, 1.0, 0.0)
    """
    shape = tf.shape(x)
    n, h, w = shape[0], tf.cast(shape[1], tf.float32), tf.cast(shape[2], tf.float32)
    top = tf.random.uniform([n, 1, 1, 1], 0.60, 0.70) * h
    left = tf.random.uniform([n, 1, 1, 1], 0.15, 0.30) * w
    right = tf.random.uniform([n, 1, 1, 1], 0.70, 0.85) * w
    rows = tf.range(h)[None, :, None, None] + 0.5
    cols = tf.range(w)[None, None, :, None] + 0.5

    def ramp(d):
        return tf.clip_by_value(d / 2.0 + 0.5, 0.0, 1.0)

    mask = ramp(rows - top) * ramp(cols - left) * ramp(right - cols)
    mask *= tf.cast(tf.random.uniform([n, 1, 1, 1]) < probability, tf.float32)
    return x * (1.0 - mask) + tf.reverse(x, [0]) * mask


def mixup(x: tf.Tensor, y: tf.Tensor, alpha: float) -> tuple[tf.Tensor, tf.Tensor]:
    """Mix each sample of a batch with the batch reversed (Zhang et al. 2018).

    The weight of the own sample is ``max(l, 1 - l)`` with ``l ~ Beta(alpha, alpha)``, so
    every mixed sample keeps a dominant face; ``y`` is one-hot.
    """
    n = tf.shape(x)[0]
    a = tf.random.gamma([n], alpha)
    b = tf.random.gamma([n], alpha)
    lam = a / (a + b)
    lam = tf.maximum(lam, 1.0 - lam)
    return (lam[:, None, None, None] * x + (1.0 - lam[:, None, None, None]) * tf.reverse(x, [0]),
            lam[:, None] * y + (1.0 - lam[:, None]) * tf.reverse(y, [0]))


def class_balanced(x: np.ndarray, targets: np.ndarray) -> tf.data.Dataset:
    """``len(x)`` (face, target) pairs drawn so that every class (a target's largest entry)
    comes up equally often: rare classes' faces repeat within an epoch, frequent ones'
    are a random part of theirs; a new draw on every pass.

    >>> y = np.eye(2, dtype=np.float32)[[0] * 900 + [1] * 100]
    >>> drawn = [int(b.numpy().argmax()) for _, b in class_balanced(np.zeros((1000, 1)), y)]
    >>> len(drawn), 400 < sum(drawn) < 600     # about half of the draws are class 1
    (1000, True)
    """
    top = targets.argmax(1)
    streams = [tf.data.Dataset.from_tensor_slices((x[top == k], targets[top == k]))
               .shuffle(int((top == k).sum()), reshuffle_each_iteration=True).repeat()
               for k in np.unique(top)]
    return tf.data.Dataset.sample_from_datasets(
        streams, weights=[1.0 / len(streams)] * len(streams)).take(len(x))


def still_batches(x: np.ndarray, targets: np.ndarray, size: int, channels: int,
                  batch_size: int, training: bool, mixup_alpha: float = 0.0,
                  erasing: float = 0.0, rotation: float = 0.0,
                  mouth_swap_rate: float = 0.0, gamma: float = 0.0, turn: float = 0.0,
                  resample: bool = False) -> tf.data.Dataset:
    """Batches of standardised stills ``(n, size, size, 1)`` uint8 and ``(n, k)`` targets;
    training batches are shuffled (or drawn class-balanced, ``resample``:
    :func:`class_balanced`), augmented (a gamma curve when ``gamma`` > 1, see
    :func:`random_gamma`; half of them turned by up to ``turn`` degrees, :func:`head_turn`;
    rotated by up to ``rotation`` degrees),
    optionally erased, given other faces' mouths (:func:`mouth_swap`) and mixed. Grey faces
    feed RGB nets as three copies."""
    if training and resample:
        ds = class_balanced(x, targets)
    else:
        ds = tf.data.Dataset.from_tensor_slices((x, targets))
        if training:
            ds = ds.shuffle(len(x), reshuffle_each_iteration=True)
    if training:
        if gamma > 1:
            ds = ds.map(lambda a, b: (random_gamma(a, gamma), b), tf.data.AUTOTUNE)
        if turn > 0:
            ds = ds.map(lambda a, b: (head_turn(a, turn), b), tf.data.AUTOTUNE)
        ds = ds.map(lambda a, b: (augment(a, size), b), tf.data.AUTOTUNE)
        if rotation > 0:
            ds = ds.map(lambda a, b: (rotate(a, rotation), b), tf.data.AUTOTUNE)
        if erasing > 0:
            ds = ds.map(lambda a, b: (random_erasing(a, erasing), b), tf.data.AUTOTUNE)
    ds = ds.map(lambda a, b: (to_channels(standardize(a), channels), b),
                tf.data.AUTOTUNE).batch(batch_size)
    if training and mouth_swap_rate > 0:
        ds = ds.map(lambda a, b: (mouth_swap(a, mouth_swap_rate), b), tf.data.AUTOTUNE)
    if training and mixup_alpha > 0:
        ds = ds.map(lambda a, b: mixup(a, b, mixup_alpha), tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)


def train(data: Path, out: Path, preset: str, epochs: int, batch_size: int,
          learning_rate: float, mixup_alpha: float = 0.0, erasing: float = 0.0,
          rotation: float = 0.0) -> dict:
    """Train (or resume) and return the best validation accuracy and the test accuracy.

    ``mixup_alpha > 0`` mixes training batches (:func:`mixup`); ``erasing`` is the
    probability of :func:`random_erasing` per training face; ``rotation`` the largest
    angle of :func:`rotate`, in degrees.
    """
    out.mkdir(parents=True, exist_ok=True)
    size = PRESETS[preset]["backbone"]["image_size"]
    channels = PRESETS[preset]["backbone"]["channels"]  # grey faces feed RGB nets as 3 copies
    cache = out / "faces.npz"
    if not cache.exists():
        arrays = {}
        for split in ("train", "validation", "test"):
            arrays[f"x_{split}"], arrays[f"y_{split}"] = load_image_folder(data / split, size)
        with atomic_path(cache, ".npz") as tmp:
            np.savez(tmp, **arrays)
    arrays = np.load(cache)
    x_train, y_train = arrays["x_train"], arrays["y_train"]
    steps = int(np.ceil(len(x_train) / batch_size))

    def dataset(x, y, training):
        return still_batches(x, np.eye(len(CANONICAL_LABELS), dtype=np.float32)[y], size,
                             channels, batch_size, training, mixup_alpha, erasing, rotation)

    state_file, last = out / "state.json", out / "last.keras"
    state = json.loads(state_file.read_text()) if state_file.exists() else {"epoch": 0,
                                                                            "best": 0.0}
    if state.setdefault("epochs", epochs) != epochs:  # the saved optimizer keeps its schedule
        raise EmotionEncoderError(f"{out}: this run was started with {state['epochs']} epochs "
                                  f"and its learning-rate schedule is fixed to them; resume "
                                  f"with {state['epochs']} or train into a new folder")
    if last.exists():
        model = keras.saving.load_model(last)
    else:
        model = build_still_classifier(preset, len(CANONICAL_LABELS))
        schedule = keras.optimizers.schedules.CosineDecay(
            0.0, max(1, steps * (epochs - 1)), warmup_target=learning_rate, warmup_steps=steps)
        model.compile(optimizer=keras.optimizers.AdamW(schedule, weight_decay=5e-4),
                      loss=keras.losses.CategoricalCrossentropy(label_smoothing=0.1),
                      metrics=["accuracy"])

    class Checkpoint(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if logs["val_accuracy"] > state["best"] or not (out / "best.weights.h5").exists():
                state["best"] = float(logs["val_accuracy"])
                self.model.save_weights(out / "best.weights.h5")
            state["epoch"] = epoch + 1
            with atomic_path(last, ".keras") as tmp:
                self.model.save(tmp)
            state_file.write_text(json.dumps(state))

    train_ds = dataset(x_train, y_train, True)
    val_ds = dataset(arrays["x_validation"], arrays["y_validation"], False)
    model.fit(train_ds, validation_data=val_ds, epochs=epochs, initial_epoch=state["epoch"],
              callbacks=[Checkpoint(), keras.callbacks.CSVLogger(out / "log.csv", append=True)],
              shuffle=False, verbose=2)  # the dataset shuffles itself each epoch
    model.load_weights(out / "best.weights.h5")
    _, test_accuracy = model.evaluate(dataset(arrays["x_test"], arrays["y_test"], False),
                                      verbose=0)
    state["test_accuracy"] = float(test_accuracy)
    state_file.write_text(json.dumps(state))
    return state


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="folder with train/validation/test")
    parser.add_argument("--out", type=Path, required=True, help="run folder (resumes if present)")
    parser.add_argument("--preset", default="default", choices=sorted(PRESETS))
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--learning-rate", type=float, default=2e-3)
    parser.add_argument("--mixup", type=float, default=0.0, help="mixup Beta alpha (0: off)")
    parser.add_argument("--erasing", type=float, default=0.0, help="random erasing probability")
    parser.add_argument("--rotation", type=float, default=0.0, help="largest rotation, degrees")
    args = parser.parse_args()
    print(json.dumps(train(args.data, args.out, args.preset, args.epochs, args.batch_size,
                           args.learning_rate, args.mixup, args.erasing, args.rotation)))


if __name__ == "__main__":
    main()
