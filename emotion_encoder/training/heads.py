"""Stage 2 of the recipe: inflate the pretrained 2D backbone and train the temporal heads.

The 3D backbone is inflated from the stage-1 still-face network and frozen; every still
becomes a clip with small random motion (``moving_clip``), its backbone feature maps are
computed once and cached (one file per part, so a killed run keeps what it finished), and
the ConvLSTM + Transformer + fusion head trains on the cache in minutes on a CPU. The full
network's weights are written at the end.

    python -m emotion_encoder.training.heads --stills-run runs/stills-default \\
        --out runs/heads-default
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from emotion_encoder import _runtime  # noqa: F401  (oneDNN before TF)
import keras

from emotion_encoder.atomic import atomic_write
from emotion_encoder.labels import CANONICAL_LABELS
from emotion_encoder.models.emotion_classifier import emotion_head
from emotion_encoder.models.loading import build_model
from emotion_encoder.models.preprocessor import standardize, to_channels
from emotion_encoder.models.presets import PRESETS, head_layers
from emotion_encoder.training.inflate import inflate_into
from emotion_encoder.training.losses import LogitAdjustedLoss, mixture_prior
from emotion_encoder.training.motion_clips import moving_clip
from emotion_encoder.models.still_classifier import build_still_classifier

HEAD_LAYERS = ("convlstm", "transformer", "fusion", "probs")


def features_of(backbone, clips: np.ndarray, batch_size: int = 32) -> np.ndarray:
    """Backbone feature maps (float16) of ``(n, t, h, w, c)`` uint8 clips."""
    x = np.asarray(to_channels(standardize(clips), backbone.channels))
    return backbone.predict(x, batch_size=batch_size, verbose=0).astype(np.float16)


def clip_features(backbone, images: np.ndarray, frames: int, seed: int | None,
                  batch_size: int = 256) -> np.ndarray:
    """Features of one clip per still: moving (``moving_clip``) or, with ``seed=None``, static."""
    rng = np.random.default_rng(seed)
    out = []
    for start in range(0, len(images), batch_size):
        batch = images[start:start + batch_size]
        if seed is None:
            clips = np.repeat(batch[:, None], frames, axis=1)
        else:
            clips = np.stack([moving_clip(image[None], frames, rng) for image in batch])
        out.append(features_of(backbone, clips))
    return np.concatenate(out)


def train_heads(stills_run: Path, out: Path, preset: str = "default", epochs: int = 20,
                variants: int = 2, batch_size: int = 128, learning_rate: float = 1e-3,
                logit_adjust: float = 0.0) -> dict:
    """Train the head on cached features; write ``<preset>.weights.h5``; return accuracies.

    A stills run of several sets (:mod:`emotion_encoder.training.mixture`) has soft
    targets (``p_train``): the head trains on them. ``logit_adjust`` > 0 trains with the
    logit-adjusted loss on the training targets' prior, as the mixture's backbone was."""
    out.mkdir(parents=True, exist_ok=True)
    arrays = np.load(stills_run / "faces.npz")
    still = build_still_classifier(preset, len(CANONICAL_LABELS))
    still.load_weights(stills_run / "best.weights.h5")
    model = build_model(preset)
    inflate_into(model.backbone, still)
    frames = model.backbone.num_frames

    def cached(name: str, images: np.ndarray, seed: int | None) -> np.ndarray:
        """One part of the feature cache (written atomically: a killed run keeps the rest)."""
        path = out / f"features-{name}.npy"
        if not path.exists():
            with atomic_write(path, "wb") as handle:
                np.save(handle, clip_features(model.backbone, images, frames, seed))
        return np.load(path)

    splits = ("validation", "test") if "x_test" in arrays else ("validation",)
    features = {"train": np.concatenate([cached(f"train-{seed}", arrays["x_train"], seed)
                                         for seed in range(variants)]),
                **{split: cached(split, arrays[f"x_{split}"], None) for split in splits}}
    y = {"train": np.tile(arrays["y_train"], variants),
         **{split: arrays[f"y_{split}"] for split in splits}}
    one_hot = {k: keras.utils.to_categorical(v, len(CANONICAL_LABELS)) for k, v in y.items()}
    if "p_train" in arrays:
        one_hot["train"] = np.tile(arrays["p_train"], (variants, 1))

    head_config = head_layers(preset)
    inputs = keras.Input(shape=model.backbone.output_shape[1:])
    head = keras.Model(inputs, emotion_head(inputs, len(CANONICAL_LABELS), **head_config)["probs"])
    steps = int(np.ceil(len(y["train"]) / batch_size))
    schedule = keras.optimizers.schedules.CosineDecay(learning_rate, steps * epochs)
    head.compile(optimizer=keras.optimizers.AdamW(schedule, weight_decay=1e-4),
                 loss=LogitAdjustedLoss(mixture_prior(one_hot["train"]), logit_adjust),
                 metrics=["accuracy"])
    best = keras.callbacks.ModelCheckpoint(out / "head.weights.h5", monitor="val_accuracy",
                                           save_best_only=True, save_weights_only=True)
    head.fit(features["train"].astype(np.float32), one_hot["train"], batch_size=batch_size,
             epochs=epochs, shuffle=True, verbose=2, callbacks=[best],
             validation_data=(features["validation"].astype(np.float32), one_hot["validation"]))
    head.load_weights(out / "head.weights.h5")
    result = {split: float(head.evaluate(features[split].astype(np.float32), one_hot[split],
                                         verbose=0)[1]) for split in splits}
    for name in HEAD_LAYERS:
        model.get_layer(name).set_weights(head.get_layer(name).get_weights())
    model.save_weights(out / f"{preset}.weights.h5")
    (out / "result.json").write_text(json.dumps(result, indent=2))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stills-run", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--preset", default="default", choices=sorted(PRESETS))
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--variants", type=int, default=2, help="motion variants per still")
    parser.add_argument("--logit-adjust", type=float, default=0.0,
                        help="tau of the logit-adjusted loss (0: plain cross-entropy)")
    args = parser.parse_args()
    print(json.dumps(train_heads(args.stills_run, args.out, args.preset, args.epochs,
                                 args.variants, logit_adjust=args.logit_adjust)))


if __name__ == "__main__":
    main()
