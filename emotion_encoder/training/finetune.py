"""Train the whole clip network on labelled clips: fine-tuning and the paper's protocol.

A ``finetune`` config starts from a trained model (``init: default``, a ``.keras`` file) or
from scratch (``init: none``), takes the label space of the data (V2C-Animation's 8
labels, Oulu-CASIA's 6, ...; labels the init model knows keep their classifier rows),
caches face crops once (:mod:`face_cache`), and trains on clips with temporal and spatial
jitter (:mod:`clip_pipeline`). Each epoch is backed up, so an interrupted run resumes
where it stopped. With ``kfold: K`` it runs the subject-independent K-fold protocol and
reports the mean accuracy; with ``seeds: N`` as well, each fold is trained N times (seed
rounds over all folds, so a stopped run has whole rounds) and scored by the N networks'
mean probabilities.

    emotion-encoder train configs/finetune-example.yaml

Config (YAML; paths relative to where the command runs)::

    preset: default            # the architecture when init is none
    init: default              # a preset with weights, a .keras file, or none
    out: runs/my-finetune
    finetune:
      data: clips/train.csv    # manifest CSV or a dataset folder (see data.discover)
      validation: clips/val.csv    # optional; else validation_fraction by subject
      validation_fraction: 0.2
      kfold: null              # K for subject-independent K-fold cross-validation
      seeds: 1                 # with kfold: networks per fold, scored by their mean
      labels: {others: keep, contempt: keep, map: {}}   # label options
      detect: null             # null: auto (already-cropped face sets are not re-detected)
      zoom: null               # crop zoom for training and the saved model; null: init's
      epochs: 10
      batch_size: 8
      learning_rate: 0.0003
      schedule: cosine         # or constant
      weight_decay: 0.0001     # AdamW; 0 makes it Adam
      label_smoothing: 0.1
      train_backbone: false    # false: train the temporal heads and classifier only
      head_epochs: 0           # with train_backbone: first this many epochs with the
                               # backbone frozen, so the new heads settle before it moves
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from emotion_encoder import _runtime  # noqa: F401  (oneDNN before TF)
import keras

from emotion_encoder.atomic import atomic_path
from emotion_encoder.data.dataset import Dataset
from emotion_encoder.data.discover import open_dataset
from emotion_encoder.data.protocols import subject_kfold, summarize_folds
from emotion_encoder.errors import EmotionEncoderError
from emotion_encoder.evaluation import sequence_probs
from emotion_encoder.models.emotion_classifier import EmotionClassifier
from emotion_encoder.models.loading import build_model, load_encoder_model
from emotion_encoder.training.clip_pipeline import clip_dataset
from emotion_encoder.training.config_keys import known_keys
from emotion_encoder.face_cache import CropSettings, FaceSequences, cache_faces

DEFAULTS = {"validation": None, "validation_fraction": 0.2, "kfold": None, "labels": {},
            "detect": None, "zoom": None, "epochs": 10, "batch_size": 8, "learning_rate": 3e-4,
            "weight_decay": 1e-4, "label_smoothing": 0.1, "schedule": "cosine",
            "train_backbone": False, "head_epochs": 0, "seed": 0,
            "seeds": 1, "sample_fps": 10.0, "split": None}


def finetune_settings(section: dict, source: str = "config") -> dict:
    """The ``finetune`` section with defaults filled in; unknown keys are errors."""
    known_keys(section, set(DEFAULTS) | {"data"}, "finetune", source)
    if "data" not in section:
        raise EmotionEncoderError(f"{source}: the finetune section needs 'data'")
    settings = {**DEFAULTS, **section}
    seeds = settings["seeds"]
    if not isinstance(seeds, int) or isinstance(seeds, bool) or seeds < 1:
        raise EmotionEncoderError(f"{source}: finetune seeds must be a whole number >= 1, "
                                  f"got {seeds!r}")
    if seeds > 1 and not settings["kfold"]:
        raise EmotionEncoderError(f"{source}: finetune seeds > 1 needs kfold (an ensemble "
                                  "per fold)")
    return settings


def init_model(init: str | None, preset: str, labels: tuple[str, ...],
               zoom: float | None = None) -> EmotionClassifier:
    """The network to train, with output ``labels``: the init model's weights everywhere,
    its classifier rows for the labels it knows, fresh rows for the others; its
    preprocessor, with ``zoom`` when given."""
    if init in (None, "none"):
        model = build_model(preset, labels=list(labels))
    else:
        source = load_encoder_model(init).model
        model = EmotionClassifier.from_config({**source.get_config(), "labels": list(labels)})
        for layer in source.layers:
            if layer.name != "probs" and layer.weights:
                model.get_layer(layer.name).set_weights(layer.get_weights())
        kernel, bias = model.get_layer("probs").get_weights()
        old_kernel, old_bias = source.get_layer("probs").get_weights()
        for i, label in enumerate(labels):
            if label in source.labels:
                j = source.labels.index(label)
                kernel[:, i], bias[i] = old_kernel[:, j], old_bias[j]
        model.get_layer("probs").set_weights([kernel, bias])
    if zoom is not None:
        model.preprocessor = model.preprocessor.with_zoom(zoom)
    return model


def _probs_model(model: EmotionClassifier) -> keras.Model:
    """The same layers with only the softmax as output, for ``fit``."""
    return keras.Model(model.input, model.output["probs"], name="trainer")


def train_model(model: EmotionClassifier, train: FaceSequences, validation: FaceSequences | None,
                out: Path, settings: dict, keep_best: bool = True) -> dict:
    """Fit ``model`` in place, backing up every epoch in ``out`` so that a rerun resumes;
    return the validation accuracy of the weights kept: the best validation epoch's with
    ``keep_best``, else the last epoch's (a test fold must not pick the epoch). With
    ``train_backbone`` and ``head_epochs``, a first run in ``out/heads`` trains the rest of
    the network with the backbone frozen (linear probing, then fine-tuning)."""
    out.mkdir(parents=True, exist_ok=True)
    final, done = out / "final.weights.h5", out / "result.json"
    trainer = _probs_model(model)
    if final.exists() and done.exists():  # finished by an earlier run
        trainer.load_weights(final)
        result = json.loads(done.read_text())
        if validation is not None and "validation_accuracy_mirror" not in result:
            result["validation_accuracy_mirror"] = mirrored_accuracy(model, validation)
            done.write_text(json.dumps(result, indent=2))
        return result
    if settings["train_backbone"] and int(settings["head_epochs"]) > 0:
        train_model(model, train, None, out / "heads",
                    {**settings, "train_backbone": False, "head_epochs": 0,
                     "epochs": int(settings["head_epochs"])})
    frames, channels = model.backbone.num_frames, model.backbone.channels
    batch = int(settings["batch_size"])
    keras.utils.set_random_seed(int(settings["seed"]))
    model.backbone.trainable = bool(settings["train_backbone"])
    trainer.compile(optimizer=keras.optimizers.AdamW(_learning_rate(settings, len(train)),
                                                     float(settings["weight_decay"])),
                    loss=keras.losses.CategoricalCrossentropy(
                        label_smoothing=float(settings["label_smoothing"])),
                    metrics=["accuracy"])
    best = out / "best.weights.h5"
    callbacks = [keras.callbacks.BackupAndRestore(str(out / "backup")),
                 keras.callbacks.CSVLogger(str(out / "log.csv"), append=True)]
    val_ds = None
    if validation is not None and len(validation):
        val_ds = clip_dataset(validation, frames, batch, False, channels)
    if val_ds is not None and keep_best:
        callbacks.append(keras.callbacks.ModelCheckpoint(
            str(best), monitor="val_accuracy", save_best_only=True, save_weights_only=True))
    history = trainer.fit(clip_dataset(train, frames, batch, True, channels,
                                       int(settings["seed"])),
                          validation_data=val_ds, epochs=int(settings["epochs"]),
                          callbacks=callbacks, shuffle=False, verbose=2)  # shuffled per epoch
    result = {"epochs": int(settings["epochs"]), "train_clips": len(train)}
    if val_ds is not None:
        if keep_best and best.exists():
            trainer.load_weights(best)
        result["validation_clips"] = len(validation)
        result["validation_accuracy"] = float(trainer.evaluate(val_ds, verbose=0)[1])
        result["validation_accuracy_mirror"] = mirrored_accuracy(model, validation)
    elif history.history.get("accuracy"):
        result["train_accuracy"] = float(history.history["accuracy"][-1])
    trainer.save_weights(final)
    done.write_text(json.dumps(result, indent=2))
    return result


def mirrored_accuracy(model: EmotionClassifier, faces: FaceSequences) -> float:
    """Accuracy of the fixed-interval clips averaged with their mirror images, as the
    encoder predicts by default."""
    allowed = np.ones(len(model.labels), bool)
    probs = sequence_probs(model, faces.sequences, "fixed", True, 16)
    predicted = np.argmax(np.where(allowed[None], probs, -np.inf), axis=-1)
    return float(np.mean(predicted == faces.labels))


def _learning_rate(settings: dict, n_train: int):
    """A constant rate or a cosine decay to 5% of it over the run."""
    rate = float(settings["learning_rate"])
    if settings["schedule"] == "constant":
        return rate
    if settings["schedule"] != "cosine":
        raise EmotionEncoderError(f"schedule {settings['schedule']!r}: expected cosine or "
                                  "constant")
    steps = max(1, math.ceil(n_train / int(settings["batch_size"]))) * int(settings["epochs"])
    return keras.optimizers.schedules.CosineDecay(rate, steps, alpha=0.05)


def _labelled(settings: dict, key: str) -> tuple[Dataset, bool]:
    """The dataset named by ``settings[key]`` and whether to detect faces in it."""
    options = dict(settings["labels"] or {})
    mapping = options.pop("map", None) or {}
    dataset, cropped = open_dataset(settings[key], split=settings["split"], **options)
    if mapping:
        dataset = dataset.map_labels(mapping)
    detect = (not cropped) if settings["detect"] is None else bool(settings["detect"])
    return dataset, detect


def _holdout(dataset: Dataset, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Train/validation indices, split by subject when every sample has one."""
    k = max(2, round(1 / fraction))
    if all(s.subject is not None for s in dataset) and \
            len({s.subject for s in dataset}) >= k:
        return subject_kfold(dataset, k=k, seed=seed)[0]
    order = np.random.default_rng(seed).permutation(len(dataset))
    cut = max(1, int(round(fraction * len(dataset))))
    return np.sort(order[cut:]), np.sort(order[:cut])


def run_kfold(init: str | None, preset: str, dataset: Dataset, faces: FaceSequences,
              settings: dict, run: Path) -> dict:
    """The subject-independent K-fold protocol on cached ``faces``: per fold a network
    trained on the other folds (``run/foldKK``; seed round s > 0 in ``run/foldKK-seedS``),
    scored on its test fold by the mean probabilities of its ``seeds`` networks. Each seed
    round writes ``run/result.json`` with the rounds done so far."""
    folds = subject_kfold(Dataset(dataset.name, tuple(faces.samples), dataset.labels),
                          k=int(settings["kfold"]), seed=int(settings["seed"]))
    seeds = int(settings["seeds"])
    members: list[list[dict]] = []
    probs: list[list[np.ndarray]] = [[] for _ in folds]  # (2, n, labels) per fold per seed
    result: dict = {}
    for member in range(seeds):
        members.append([])
        for fold, (train, test) in enumerate(folds):
            out = run / (f"fold{fold:02d}" + (f"-seed{member}" if member else ""))
            model = init_model(init, preset, dataset.labels, settings["zoom"])
            fold_seed = int(settings["seed"]) + fold + 1000 * member
            done = train_model(model, faces.select(train), faces.select(test), out,
                               {**settings, "seed": fold_seed}, keep_best=False)
            members[-1].append(done)
            if seeds > 1:
                probs[fold].append(_test_probs(model, faces.select(test), out))
            print(f"{f'seed {member + 1}/{seeds} ' if seeds > 1 else ''}"
                  f"fold {fold + 1}/{len(folds)}: "
                  f"{done['validation_accuracy']:.2%} "
                  f"({done['validation_accuracy_mirror']:.2%} with mirror averaging)",
                  flush=True)
        if seeds == 1:
            accuracies = [m["validation_accuracy"] for m in members[0]]
            mirrored = [m["validation_accuracy_mirror"] for m in members[0]]
        else:
            accuracies, mirrored = (
                [float(np.mean(np.argmax(np.mean(p, axis=0)[view], -1)
                               == faces.labels[test]))
                 for p, (_, test) in zip(probs, folds)] for view in (0, 1))
        summary, with_mirror = summarize_folds(accuracies), summarize_folds(mirrored)
        result = dict(kfold=len(folds), seeds=seeds, seeds_done=member + 1,
                      fold_accuracies=accuracies, mean_accuracy=summary.mean,
                      std_accuracy=summary.std, fold_accuracies_mirror=mirrored,
                      mean_accuracy_mirror=with_mirror.mean, std_accuracy_mirror=with_mirror.std)
        if seeds > 1:
            result["member_mean_accuracies"] = [
                float(np.mean([m["validation_accuracy"] for m in round_])) for round_ in members]
            print(f"{member + 1} of {seeds} seeds: {summary.mean:.2%} +- {summary.std:.2%} "
                  f"({with_mirror.mean:.2%} with mirror averaging)", flush=True)
            with atomic_path(run / "result.json", ".json") as tmp:
                tmp.write_text(json.dumps(result, indent=2))
    return result


def _test_probs(model: EmotionClassifier, faces: FaceSequences, out: Path) -> np.ndarray:
    """``(2, n, labels)``: the trained ``model``'s probabilities of the test ``faces``, as
    is and mirror-averaged (uncalibrated), cached with their labels in
    ``out/test_probs.npz``."""
    path = out / "test_probs.npz"
    if path.exists():
        return np.load(path)["probs"]
    probs = np.stack([sequence_probs(model, faces.sequences, "fixed", mirror, 16, 1.0)
                      for mirror in (False, True)])
    with atomic_path(path, ".npz") as tmp:
        np.savez(tmp, probs=probs, labels=faces.labels)
    return probs


def run_finetune(config: dict, run: Path) -> dict:
    """Run (or resume) a ``finetune`` config in the folder ``run``; return its result."""
    settings = finetune_settings(config["finetune"])
    preset, init = config.get("preset", "default"), config.get("init", "default")
    dataset, detect = _labelled(settings, "data")
    reference = init_model(init, preset, dataset.labels, settings["zoom"])
    crops = CropSettings.of(reference.preprocessor, detect=detect,
                            sample_fps=float(settings["sample_fps"]))
    faces = cache_faces(dataset, run / "faces", crops)
    result: dict = {"data": str(settings["data"]), "labels": list(dataset.labels),
                    "samples": len(dataset), "skipped": faces.skipped}
    if settings["kfold"]:
        result.update(run_kfold(init, preset, dataset, faces, settings, run))
    else:
        if settings["validation"]:
            validation, _ = _labelled(settings, "validation")
            validation = validation.map_labels({l: None for l in validation.labels
                                                if l not in dataset.labels})
            val_faces = cache_faces(Dataset(validation.name, validation.samples,
                                            dataset.labels), run / "faces", crops)
            train_faces = faces
        else:
            kept = Dataset(dataset.name, tuple(faces.samples), dataset.labels)
            train, test = _holdout(kept, float(settings["validation_fraction"]),
                                   int(settings["seed"]))
            train_faces, val_faces = faces.select(train), faces.select(test)
        result.update(train_model(reference, train_faces, val_faces, run / "train", settings))
        with atomic_path(run / "model.keras", ".keras") as tmp:
            reference.save(tmp)
        result["model"] = str(run / "model.keras")
    (run / "result.json").write_text(json.dumps(result, indent=2))
    return result
