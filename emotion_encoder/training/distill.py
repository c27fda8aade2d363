"""Distillation targets for the stills stage: what trained still networks say about a face.

An ensemble of networks reads unseen faces better than any one of them, and a network
read twice (the face and its mirror image, the encoder's default) better than once; both
cost inference time. Distillation (Hinton et al. 2015) moves that into one network: the
stills stage trains on ``(1 - weight) * labels + weight * teacher`` where ``teacher`` is
the geometric mean, over the teachers and over each face and its mirror, of the teachers'
probabilities. A teacher is a still network: ``{preset, weights}`` (a stills stage's
``best.weights.h5`` or a soup seed's ``.npz``) or ``{preset, init}`` (a shipped preset or
a ``.keras`` model: its backbone with a softmax head fitted on the run's own training
faces).

The teachers' scores are balanced (they trained with logit adjustment); the student's loss
adds ``tau * log prior`` to its own scores, so the targets get the same shift
(:func:`adjusted`) and a student that matches them outputs the teachers' balanced scores.

>>> p = adjusted(np.array([[0.5, 0.5]]), np.array([0.8, 0.2]), tau=1.0)
>>> [round(float(v), 2) for v in p[0]]
[0.8, 0.2]
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from emotion_encoder import _runtime  # noqa: F401  (oneDNN before TF)
import keras

from emotion_encoder.errors import EmotionEncoderError
from emotion_encoder.models.preprocessor import standardize, to_channels
from emotion_encoder.models.presets import PRESETS
from emotion_encoder.training.losses import LogitAdjustedLoss


def _softmax(logits: np.ndarray) -> np.ndarray:
    out = np.exp(logits - logits.max(axis=1, keepdims=True))
    return (out / out.sum(axis=1, keepdims=True)).astype(np.float32)


def adjusted(probs: np.ndarray, prior: np.ndarray, tau: float) -> np.ndarray:
    """``softmax(log probs + tau * log prior)``: balanced scores as the logit-adjusted loss
    sees them."""
    return _softmax(np.log(np.clip(probs, 1e-7, 1.0)) + tau * np.log(prior))


def _inputs(faces: np.ndarray, channels: int, mirror: bool) -> np.ndarray:
    x = faces[:, :, ::-1] if mirror else faces
    return np.asarray(to_channels(standardize(x), channels))


def _log_probs(model: keras.Model, faces: np.ndarray, channels: int) -> np.ndarray:
    """Mean over a face and its mirror image of ``model``'s log probabilities."""
    logs = [np.log(np.clip(model.predict(_inputs(faces, channels, m), batch_size=256,
                                         verbose=0), 1e-7, 1.0)) for m in (False, True)]
    return 0.5 * (logs[0] + logs[1])


def _fitted_head(teacher: dict, faces: np.ndarray, targets: np.ndarray, prior: np.ndarray,
                 tau: float, size: int) -> keras.Model:
    """A shipped preset's (or ``.keras`` model's) still twin with a softmax head fitted on
    ``faces`` (backbone frozen; the features of each face and its mirror)."""
    from emotion_encoder.training.mixture import initial_model  # mixture imports this module

    model = initial_model(teacher["preset"], teacher["init"], size)
    pooled = keras.Model(model.input, model.get_layer("probs").input)
    channels = PRESETS[teacher["preset"]]["backbone"]["channels"]
    features = np.concatenate([pooled.predict(_inputs(faces, channels, m), batch_size=256,
                                              verbose=0) for m in (False, True)])
    head_in = keras.Input(features.shape[1:])
    head = keras.Model(head_in, keras.layers.Dense(targets.shape[1], activation="softmax")(
        head_in))
    head.compile(optimizer=keras.optimizers.Adam(1e-3), loss=LogitAdjustedLoss(prior, tau))
    head.fit(features, np.concatenate([targets, targets]), batch_size=256, epochs=10,
             verbose=0)
    model.get_layer("probs").set_weights(head.layers[-1].get_weights())
    return model


def teacher_probabilities(teachers: list[dict], faces: np.ndarray, targets: np.ndarray,
                          prior: np.ndarray, tau: float) -> np.ndarray:
    """The teachers' balanced probabilities for ``faces`` ``(n, s, s, 1)`` uint8: the
    geometric mean over teachers and mirror images, renormalised."""
    if not teachers:
        raise EmotionEncoderError("distill: no teachers (a list of {preset, weights} or "
                                  "{preset, init})")
    size = faces.shape[1]
    total = np.zeros((len(faces), targets.shape[1]), np.float64)
    for teacher in teachers:
        preset = teacher.get("preset")
        if preset not in PRESETS:
            raise EmotionEncoderError(f"distill teacher {teacher}: 'preset' must be one of "
                                      f"{sorted(PRESETS)}")
        if "weights" in teacher:
            from emotion_encoder.training.soup import still_network

            if not Path(teacher["weights"]).is_file():
                raise EmotionEncoderError(f"{teacher['weights']}: teacher weights not found")
            model = still_network(preset, Path(teacher["weights"]), targets.shape[1], size)
        elif "init" in teacher:
            model = _fitted_head(teacher, faces, targets, prior, tau, size)
        else:
            raise EmotionEncoderError(f"distill teacher {teacher}: needs 'weights' (a stills "
                                      "best.weights.h5 or a soup seed's .npz) or 'init' (a "
                                      "preset or .keras model)")
        total += _log_probs(model, faces, PRESETS[preset]["backbone"]["channels"])
        print(f"distill: teacher {teacher} done", flush=True)
    return _softmax(total / len(teachers))
