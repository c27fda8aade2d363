"""The keys a training config may hold, checked before anything trains.

A misspelt option (``learing_rate``) or one the chosen stage does not read (``gamma`` with
a single ``data`` folder) would otherwise be ignored silently, and the run would train for
hours on the defaults. Every section is checked against the keys its code reads; an error
names the file, the section, the key and the nearest known key.

>>> check_recipe({"preset": "default", "out": "runs/x", "heads": {"epochs": 6},
...               "stills": {"data": "fer2013", "epochs": 60}}, "c.yaml")
>>> check_recipe({"preset": "default", "out": "runs/x", "heads": {"epochs": 6},
...               "stills": {"data": "fer2013", "learing_rate": 0.1}}, "c.yaml")
Traceback (most recent call last):
...
emotion_encoder.errors.EmotionEncoderError: c.yaml: unknown key 'learing_rate' in stills \
(did you mean 'learning_rate'?); known: batch_size, data, ...
"""

from __future__ import annotations

import difflib

from emotion_encoder.errors import EmotionEncoderError

RECIPE = {"preset", "out", "stills", "heads", "zoom", "probes"}
FINETUNE = {"preset", "out", "init", "finetune"}  # the section's keys: finetune.py
HEADS = {"epochs", "variants", "logit_adjust"}
ZOOM = {"candidates"}
#: the stills stage on one FER2013-layout folder (training/stills.py)
STILLS_FOLDER = {"data", "epochs", "batch_size", "learning_rate", "mixup", "erasing",
                 "rotation", "image_size"}
#: the stills stage on a mixture of sources (training/mixture.py)
STILLS_MIXTURE = (STILLS_FOLDER - {"data"}) | {
    "sources", "init", "weights", "distill", "logit_adjust", "mouth_swap", "gamma",
    "style_mixing", "keep", "snapshots", "balance", "ema", "clahe", "head_turn"}
SOURCE = {"path", "kind", "ferplus", "ferplus_weight", "neutral_first_frames", "repeat",
          "intensity_levels"}
DISTILL = {"weight", "teachers"}
TEACHER = {"preset", "weights", "init"}


def _mapping(section: object, where: str, source: str) -> dict:
    if not isinstance(section, dict):
        raise EmotionEncoderError(f"{source}: {where} must be a mapping of keys, "
                                  f"got {type(section).__name__}")
    return section


def known_keys(section: object, known: set[str], where: str, source: str) -> dict:
    """``section`` as a mapping whose keys are all in ``known``, or an error."""
    for key in _mapping(section, where, source):
        if key not in known:
            close = difflib.get_close_matches(str(key), sorted(known), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise EmotionEncoderError(f"{source}: unknown key {key!r} in {where}{hint}; "
                                      f"known: {', '.join(sorted(known))}")
    return section


def snapshot_epochs(stills: dict, source: str) -> set[int]:
    """The stills option ``snapshots`` checked: the epochs (1 to ``epochs``) whose weights
    the stage keeps as ``epochN.weights.h5``.

    >>> sorted(snapshot_epochs({"epochs": 40, "snapshots": [12, 24]}, "c.yaml"))
    [12, 24]
    >>> snapshot_epochs({"epochs": 40, "snapshots": [0]}, "c.yaml")
    Traceback (most recent call last):
    ...
    emotion_encoder.errors.EmotionEncoderError: c.yaml: stills snapshots [0]: a list of epochs from 1 to 40
    """
    epochs, snapshots = int(stills.get("epochs", 10)), stills.get("snapshots", [])
    if not isinstance(snapshots, list) or not all(
            isinstance(e, int) and not isinstance(e, bool) and 1 <= e <= epochs
            for e in snapshots):
        raise EmotionEncoderError(f"{source}: stills snapshots {snapshots!r}: a list of epochs "
                                  f"from 1 to {epochs}")
    return set(snapshots)


def check_stills(stills: object, source: str) -> None:
    """The ``stills`` section: one ``data`` folder or a mixture of ``sources``, each with
    only the options its stage reads."""
    if not isinstance(stills, dict) or ("data" in stills) == ("sources" in stills):
        raise EmotionEncoderError(f"{source}: stills needs either 'data' (one FER2013-layout "
                                  "folder) or 'sources' (a mixture of face sets)")
    if "data" in stills:
        mixture_only = sorted(set(stills) & (STILLS_MIXTURE - STILLS_FOLDER))
        if mixture_only:
            raise EmotionEncoderError(
                f"{source}: stills option {mixture_only[0]!r} needs 'sources' (the mixture "
                f"recipe); with one 'data' folder the stills stage reads only "
                f"{', '.join(sorted(STILLS_FOLDER))}")
        known_keys(stills, STILLS_FOLDER, "stills", source)
        return
    known_keys(stills, STILLS_MIXTURE, "stills", source)
    snapshot_epochs(stills, source)
    if stills.get("balance") not in (None, "reweight", "resample"):
        raise EmotionEncoderError(f"{source}: stills balance {stills['balance']!r}: "
                                  "'reweight' (class weights in the loss) or 'resample' "
                                  "(class-balanced batches); the logit adjustment is "
                                  "'logit_adjust'")
    if "ema" in stills and not (isinstance(stills["ema"], float) and 0.0 < stills["ema"] < 1.0):
        raise EmotionEncoderError(f"{source}: stills ema {stills['ema']!r}: the moving "
                                  "average's momentum, a number between 0 and 1 (e.g. 0.999)")
    if "clahe" in stills and not (isinstance(stills["clahe"], (int, float))
                                  and not isinstance(stills["clahe"], bool)
                                  and stills["clahe"] > 0):
        raise EmotionEncoderError(f"{source}: stills clahe {stills['clahe']!r}: CLAHE's clip "
                                  "limit, a positive number (e.g. 2.0)")
    if "clahe" in stills and "distill" in stills:
        raise EmotionEncoderError(f"{source}: stills clahe with distill: the teachers would "
                                  "read equalised faces they were not trained on")
    for name, spec in _mapping(stills["sources"], "stills sources", source).items():
        if "path" not in known_keys(spec, SOURCE, f"stills source {name!r}", source):
            raise EmotionEncoderError(f"{source}: stills source {name!r} has no 'path'")
    if "distill" in stills:
        distill = known_keys(stills["distill"], DISTILL, "stills distill", source)
        for teacher in distill.get("teachers") or []:
            known_keys(teacher, TEACHER, "a distill teacher", source)


def check_recipe(config: dict, source: str) -> None:
    """A whole config: a still-face recipe (``stills`` and ``heads``) or a ``finetune``."""
    if "finetune" in config:
        known_keys(config, FINETUNE, "the config (a finetune config)", source)
        return
    known_keys(config, RECIPE, "the config", source)
    check_stills(config["stills"], source)
    if "clahe" in config["stills"]:
        raise EmotionEncoderError(f"{source}: stills clahe is an ablation option "
                                  "(training/ablation.py): the heads stage and the saved "
                                  "model do not equalise faces")
    known_keys(config["heads"], HEADS, "heads", source)
    if config.get("zoom") is not None:
        known_keys(config["zoom"], ZOOM, "zoom", source)
