"""Run a training config (YAML or JSON), resuming where it stopped.

    emotion-encoder train configs/default.yaml          # the shipped default's recipe
    emotion-encoder train configs/finetune-example.yaml # fine-tune on your own clips

(``configs/`` is in the source repository and the sdist, not in the installed wheel.)

A config holds ``preset`` and ``out`` and either the stages of the still-face recipe
(``stills``: pretrain the 2D twin of the backbone on still faces; ``heads``: inflate it to
3D and train the temporal heads on clips; optional ``zoom``: choose the preprocessor's
zoom on the validation split, :mod:`emotion_encoder.training.zoom`) or a ``finetune``
section (train the clip network on labelled clips, optionally K-fold:
:mod:`emotion_encoder.training.finetune`).
The run folder gets the config, the git commit, checkpoints, ``result.json`` and
``model.keras``.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import yaml

from emotion_encoder.atomic import atomic_path
from emotion_encoder.errors import EmotionEncoderError
from emotion_encoder.models.loading import build_model
from emotion_encoder.models.presets import PRESETS
from emotion_encoder.provenance import git_commit
from emotion_encoder.training.config_keys import check_recipe
from emotion_encoder.training.export import export_weights
from emotion_encoder.training.finetune import finetune_settings, run_finetune
from emotion_encoder.training.heads import train_heads
from emotion_encoder.training.mixture import train_mixture
from emotion_encoder.training.stills import train
from emotion_encoder.training.zoom import choose_zoom


def read_yaml(path: str | Path) -> dict:
    """A YAML (or JSON) file holding a mapping, as a dict; errors name the file."""
    path = Path(path)
    if not path.is_file():
        raise EmotionEncoderError(f"{path}: config file not found")
    try:
        config = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise EmotionEncoderError(f"{path}: not valid YAML/JSON ({exc})") from None
    if not isinstance(config, dict):
        raise EmotionEncoderError(f"{path}: expected a mapping of keys, "
                                  f"got {type(config).__name__}")
    return config


def read_config(path: str | Path) -> dict:
    """A recipe config as a dict; YAML and JSON both work (JSON is YAML). Unknown keys are
    errors (:mod:`emotion_encoder.training.config_keys`)."""
    config = read_yaml(path)
    needed = ("preset", "out", "finetune") if "finetune" in config else \
        ("preset", "out", "stills", "heads")
    for key in needed:
        if key not in config:
            raise EmotionEncoderError(f"{path}: missing key {key!r} (a config has either "
                                      "'stills' and 'heads', or 'finetune')")
    zoom = config.get("zoom")
    if zoom is not None and not (isinstance(zoom, dict) and isinstance(zoom.get("candidates"),
                                                                       list)):
        raise EmotionEncoderError(f"{path}: 'zoom' must be a mapping with a list of "
                                  "'candidates', e.g. zoom: {candidates: [1.0, 1.09]}")
    check_recipe(config, str(path))
    if "finetune" in config:
        finetune_settings(config["finetune"], str(path))  # its own keys, before training
    return config


def run_recipe(config_path: str | Path, out: str | Path | None = None) -> dict:
    """Run (or resume) the config's training; return its result (also in ``result.json``)."""
    config = read_config(config_path)
    run = Path(out or config["out"])
    run.mkdir(parents=True, exist_ok=True)
    shutil.copy(config_path, run / "config.yaml")
    (run / "git_commit.txt").write_text(git_commit() + "\n")
    if "finetune" in config:
        return run_finetune(config, run)
    return _run_stills_recipe(config, run)


def _run_stills_recipe(config: dict, run: Path) -> dict:
    """Stage 1 (2D on stills), stage 2 (inflated 3D, temporal heads), stage 3 (zoom)."""
    stills, heads, preset = config["stills"], config["heads"], config["preset"]
    size = PRESETS[preset]["backbone"]["image_size"]
    if int(stills.get("image_size", size)) != size:
        raise EmotionEncoderError(f"stills image_size {stills['image_size']} differs from the "
                                  f"{preset!r} preset's {size}: the heads and the shipped "
                                  "network run at the preset's size (image_size is for the "
                                  "ablation, python -m emotion_encoder.training.ablation)")
    if "sources" in stills:  # several still-face sets (training/mixture.py)
        for name, spec in stills["sources"].items():
            if not Path(spec["path"]).exists():
                raise EmotionEncoderError(f"{spec['path']}: stills source {name!r} not found")
        train_mixture(stills, run / "stills", preset)
        data = Path(stills["sources"].get("fer2013", {}).get("path", ""))
    else:
        data = Path(stills["data"])
        if not data.is_dir():
            raise EmotionEncoderError(f"{data}: training data folder not found")
        train(data, run / "stills", preset, stills.get("epochs", 30),
              stills.get("batch_size", 64), stills.get("learning_rate", 2e-3),
              stills.get("mixup", 0.0), stills.get("erasing", 0.0),
              stills.get("rotation", 0.0))
    result = train_heads(run / "stills", run / "heads", preset, heads.get("epochs", 20),
                         heads.get("variants", 2), logit_adjust=heads.get("logit_adjust", 0.0))
    model = build_model(preset)
    model.load_weights(run / "heads" / f"{preset}.weights.h5")
    with atomic_path(run / "model.keras", ".keras") as tmp:
        model.save(tmp)
    export_weights(model, run / f"{preset}.weights.h5")  # float16: the file a preset ships
    if config.get("zoom"):
        result["zoom"] = choose_zoom(run / "model.keras", data, config["zoom"]["candidates"],
                                     run / "zoom")
    (run / "result.json").write_text(json.dumps(result, indent=2))
    return result
