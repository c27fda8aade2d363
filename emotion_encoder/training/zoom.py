"""Choose a model's preprocessor zoom on a validation split (stage 3 of the recipe).

Training crops 80-100% of each face, so a network can expect faces a little closer than
a whole crop shows (the train/test scale discrepancy of Touvron et al. 2019). Each
candidate zoom is scored on the validation split (mirror averaging, as the encoder
predicts) and the best is written into the saved model's preprocessor.

>>> choose_zoom("runs/default/model.keras", "../shared/data/fer2013",
...             [1.0, 1.04, 1.09, 1.14], "runs/default/zoom")  # doctest: +SKIP
{'split': 'validation', 'accuracies': {'1': 0.6676, ...}, 'zoom': 1.09}
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from emotion_encoder import _runtime  # noqa: F401  (oneDNN before TF)
import keras

from emotion_encoder.atomic import atomic_path
from emotion_encoder.errors import EmotionEncoderError
from emotion_encoder.evaluation import evaluate


def choose_zoom(model: str | os.PathLike, data: str | os.PathLike, candidates: list[float],
                out: str | os.PathLike, split: str = "validation") -> dict:
    """Score ``model`` (a ``.keras`` file) on ``data``'s ``split`` at each candidate zoom,
    save the model again with the best one, and return the scores and the choice.

    Scores in ``out`` newer than the model file are reused, so an interrupted run resumes.
    """
    if not candidates:
        raise EmotionEncoderError("zoom: candidates is empty; give zooms like [1.0, 1.09]")
    out, model = Path(out), Path(model)
    accuracies = {}
    for zoom in candidates:
        metrics = out / f"zoom-{float(zoom):g}" / "metrics.json"
        if not metrics.exists() or metrics.stat().st_mtime < model.stat().st_mtime:
            evaluate(model, data, metrics.parent, split=split, zoom=float(zoom),
                     cache=out / "faces")
        accuracies[f"{float(zoom):g}"] = json.loads(metrics.read_text())["accuracy"]
    best = float(max(accuracies, key=accuracies.get))
    network = keras.saving.load_model(model)
    network.preprocessor = network.preprocessor.with_zoom(best)
    with atomic_path(model, ".keras") as tmp:
        network.save(tmp)
    return {"split": split, "accuracies": accuracies, "zoom": best}
