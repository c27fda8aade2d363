"""Stage 1 on several still-face sets: FER2013 with FER+ soft labels, CK+, LFW, manifests.

A model that learned from FER2013 alone reads film-like faces of FER2013 well and posed or
studio faces poorly. This stage trains the 2D twin of the backbone on a mixture:

* ``fer2013``: the train split, with the FER+ vote distribution as the target when
  ``ferplus`` names ``votes.csv`` (``ferplus_weight`` < 1 blends it with the original
  one-hot label; the original label where a face has no votes; faces whose majority is
  "not a face" are left out); its validation split (FER+ majority) for model selection.
* ``ckplus``: the cut-down CK+'s peak frames, and with ``neutral_first_frames`` each
  sequence's first frame as neutral (registered into the peak framing by
  :mod:`emotion_encoder.data.ckplus_onset`); ``intensity_levels`` adds the train
  sequences' apexes blended with that frame (:mod:`emotion_encoder.training.intensity`).
* ``manifest``: any ``path,label,subject`` CSV of stills (LFW expressions); faces are
  detected and cut the way the encoder does (:mod:`emotion_encoder.face_cache`).

CK+ and manifests are split by subject (:func:`subject_split`): the train part trains, the
validation part selects, the test part is never seen (the probe panel scores it). Each
source can be repeated (``repeat``) to weigh it up. Class imbalance is met by logit
adjustment (Menon et al. 2021): the loss sees ``log p + tau * log prior``, so the network
itself learns balanced scores; ``balance`` adds the older remedies, class weights in the
loss (``reweight``) or class-balanced batches (``resample``), measured against it in
``configs/ablation-balance-methods.yaml``. The epoch kept (``best.weights.h5``) is the
one with the best mean, over the sources, of the validation part's balanced accuracy
(mean per-class recall), never FER2013 validation alone; ``keep: final`` keeps the last
epoch instead (a long cosine schedule, where a few validation stills swing the mean
between epochs). The last epoch is always written too (``final.weights.h5``), and
``snapshots`` (a list of epochs) writes those epochs' weights as ``epochN.weights.h5`` (how
far the probes swing along one run). ``ema`` (a momentum such as 0.999) keeps an
exponential moving average of the weights along the run (Polyak averaging, as in SWAD,
Cha et al. 2021, whose averages along a trajectory transfer better to unseen domains):
every epoch is scored, kept and written with the averaged weights (five runs each way:
inside the noise, ``configs/ablation-ema.yaml``). ``distill`` blends the targets with what
trained still networks read (:mod:`emotion_encoder.training.distill`). ``clahe`` (a clip
limit such as 2.0) trains on faces equalised by CLAHE
(:func:`~emotion_encoder.models.preprocessor.equalize`; ``configs/ablation-clahe.yaml``),
and a network trained so must be read with the preprocessor's ``clahe``: an ablation
option, which the recipe's heads stage does not take. ``head_turn`` (degrees) turns half
of the training faces about a vertical axis by up to that angle
(:func:`~emotion_encoder.training.stills.head_turn`; ``configs/ablation-head-turn.yaml``).
``init: default`` starts from a shipped preset's backbone (a stills stage's weights file:
that 2D network whole); ``image_size`` trains the (fully convolutional) twin at another
input side than the preset's (FER2013's and CK+'s 48 px faces are enlarged, the
other sets cut at that side). ``weights`` takes the stage's result from a file of
:mod:`emotion_encoder.training.soup` (seeds trained elsewhere and averaged) instead of
fitting here.
"""

from __future__ import annotations

import json
import shutil
import warnings
from contextlib import contextmanager, nullcontext
from pathlib import Path

import numpy as np

from emotion_encoder import _runtime  # noqa: F401  (oneDNN before TF)
import keras

from emotion_encoder.atomic import atomic_path
from emotion_encoder.data.ckplus import load_ckplus_cutdown
from emotion_encoder.data.ckplus_onset import write_onset_set
from emotion_encoder.data.fer2013 import image_folder_files, load_image_folder, read_grey
from emotion_encoder.data.ferplus import FERPLUS_CLASSES, read_votes, soft_labels
from emotion_encoder.data.manifest import load_manifest
from emotion_encoder.data.protocols import subject_split
from emotion_encoder.errors import EmotionEncoderError
from emotion_encoder.labels import CANONICAL_LABELS
from emotion_encoder.models.loading import build_model, load_encoder_model
from emotion_encoder.models.preprocessor import equalize
from emotion_encoder.models.presets import PRESETS
from emotion_encoder.face_cache import CropSettings, cache_faces
from emotion_encoder.training.config_keys import snapshot_epochs
from emotion_encoder.training.distill import adjusted, teacher_probabilities
from emotion_encoder.training.inflate import deflate_into
from emotion_encoder.training.intensity import blend_intensities, check_levels
from emotion_encoder.training.losses import LogitAdjustedLoss, mixture_prior
from emotion_encoder.models.still_classifier import build_still_classifier
from emotion_encoder.training.selection import source_scores
from emotion_encoder.training.soup import load_weights
from emotion_encoder.training.stills import still_batches

LABELS = CANONICAL_LABELS


def _one_hot(labels: list[str]) -> np.ndarray:
    return np.eye(len(LABELS), dtype=np.float32)[[LABELS.index(x) for x in labels]]


def _fer2013(spec: dict, size: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """FER2013 train (soft FER+ targets when ``ferplus`` is set) and validation, at
    ``size`` px."""
    root = Path(spec["path"])
    votes = read_votes(spec["ferplus"]) if spec.get("ferplus") else {}
    weight = float(spec.get("ferplus_weight", 1.0))
    parts = {}
    for split in ("train", "validation"):
        files = image_folder_files(root / split)
        keep, targets = [], []
        for path, label in files:
            target = np.eye(len(LABELS), dtype=np.float32)[label]
            v = votes.get(path.relative_to(root).as_posix())
            if v is not None:
                if FERPLUS_CLASSES[int(np.argmax(v))] == "NF":  # not a face
                    continue
                soft = soft_labels(v[None])[0]
                if soft.sum() > 0 and split == "train":
                    target = weight * soft + (1.0 - weight) * target
                elif soft.sum() > 0:
                    target = np.eye(len(LABELS), dtype=np.float32)[soft.argmax()]
            keep.append(path)
            targets.append(target)
        parts[split] = (read_grey(keep, size), np.stack(targets).astype(np.float32))
    return parts


def _by_subject(dataset, cache: Path, settings: CropSettings, neutral=None
                ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Train and validation parts (by subject) of a dataset of stills, every frame a still."""
    parts = {}
    for part in ("train", "validation"):
        images, labels = [], []
        for ds in [dataset] + ([neutral] if neutral is not None else []):
            chosen = subject_split(ds, part).filter(lambda s: s.label in LABELS)
            if not len(chosen):
                continue
            faces = cache_faces(chosen, cache, settings, progress=False)
            for crops, label in zip(faces.sequences, faces.labels):
                images.extend(crops)
                labels.extend([faces.label_names[label]] * len(crops))
            if faces.skipped:
                print(f"{ds.name} {part}: {len(faces.skipped)} skipped (no face)", flush=True)
        if not images:  # a small set may have no person in a part (JAFFE's 10: none validate)
            print(f"{dataset.name} {part}: no subject in this part", flush=True)
            side = settings.image_size
            parts[part] = (np.zeros((0, side, side, settings.channels), np.uint8),
                           np.zeros((0, len(LABELS)), np.float32))
            continue
        parts[part] = (np.stack(images), _one_hot(labels))
    return parts


def _ckplus_blends(onset: Path, cache: Path, settings: CropSettings, levels: list[float]
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Each train-part CK+ sequence with a registered first frame: its apex crop blended
    with that frame at ``levels`` (:mod:`emotion_encoder.training.intensity`)."""
    dataset = load_ckplus_cutdown(onset, with_neutral=True, contempt="drop")
    registered = {s.sequence for s in dataset.samples if s.label == "neutral"}
    chosen = subject_split(dataset, "train").filter(
        lambda s: s.label in LABELS and s.label != "neutral" and s.sequence in registered)
    faces = cache_faces(chosen, cache, settings, progress=False)
    images, targets = [], []
    for crops, label in zip(faces.sequences, faces.labels):  # crops: first, *peaks
        x, p = blend_intensities(crops[0], crops[-1], faces.label_names[label], levels)
        images.append(x)
        targets.append(p)
    print(f"ckplus: {len(images)} sequences blended at {levels}", flush=True)
    return np.concatenate(images), np.concatenate(targets)


def _stale(summary: dict, spec: dict, size: int) -> str | None:
    """How the faces of ``summary`` (a ``sources.json``) differ from those ``spec`` and
    ``size`` would cut, or None. Runs before 2026-12-05 kept only the sources' names.

    >>> _stale({"sources": ["lfw"], "spec": {"lfw": {"path": "l", "repeat": 2}}, "size": 48},
    ...        {"lfw": {"path": "l", "repeat": 8}}, 48)
    "with source 'lfw' as {'path': 'l', 'repeat': 2}, not {'path': 'l', 'repeat': 8}"
    """
    if summary.get("size", size) != size:
        return f"at {summary['size']} px, not {size}"
    if summary["sources"] != list(spec):
        return f"from the sources {summary['sources']}, not {list(spec)}"
    for name, options in summary.get("spec", spec).items():
        if options != spec[name]:
            return f"with source {name!r} as {options}, not {spec[name]}"
    return None


def build_mixture(sources: dict, out: Path, size: int = 48) -> dict:
    """Write ``out/faces.npz`` (``size`` px faces: ``x_train``, ``p_train`` soft targets,
    ``y_train``, ``s_train`` source index, the same for validation, and FER2013 test as
    ``x_test``, ``y_test`` when given) and return its summary (``sources.json``). A folder
    that already holds them is reused if they were cut from the same sources at ``size``,
    else an error (a changed ``repeat`` or source would otherwise be ignored)."""
    for name, spec in sources.items():
        if "intensity_levels" in spec:  # before minutes of cutting faces
            check_levels(spec["intensity_levels"])
            if spec.get("kind", name) != "ckplus" or not spec.get("neutral_first_frames"):
                raise EmotionEncoderError(f"stills source {name!r}: intensity_levels needs a "
                                          "ckplus source with neutral_first_frames: true")
    cache = out / "faces.npz"
    wanted = json.loads(json.dumps(sources))  # as sources.json will hold it
    if cache.exists():
        summary = json.loads((out / "sources.json").read_text())
        stale = _stale(summary, wanted, size)
        if stale:
            raise EmotionEncoderError(f"{cache}: cut {stale}; delete {out} to cut the faces "
                                      "again, or give the run another 'out'")
        return summary
    parts: dict[str, dict] = {}
    for name, spec in sources.items():
        kind = spec.get("kind", name)
        if kind == "fer2013":
            parts[name] = _fer2013(spec, size)
        elif kind == "ckplus":
            neutral = None
            if spec.get("neutral_first_frames"):
                onset = out / "ckplus-onset"
                if not (onset / "sequences.csv").exists():
                    write_onset_set(spec["path"], onset)
                neutral = load_ckplus_cutdown(onset, with_neutral=True).filter(
                    lambda s: s.label == "neutral")
            parts[name] = _by_subject(load_ckplus_cutdown(spec["path"], contempt="drop"),
                                      out / "crops", CropSettings(size, detect=False),
                                      neutral)
            if spec.get("intensity_levels"):
                x, p = parts[name]["train"]
                bx, bp = _ckplus_blends(out / "ckplus-onset", out / "crops",
                                        CropSettings(size, detect=False),
                                        spec["intensity_levels"])
                parts[name]["train"] = (np.concatenate([x, bx]), np.concatenate([p, bp]))
        elif kind == "manifest":
            parts[name] = _by_subject(load_manifest(spec["path"], unknown="drop",
                                                    contempt="drop"), out / "crops",
                                      CropSettings(size, detect=True))
        else:
            raise EmotionEncoderError(f"stills source {name!r}: unknown kind {kind!r} "
                                      "(fer2013, ckplus or manifest)")
    arrays, summary = {}, {"sources": list(sources), "spec": wanted, "size": size,
                       "counts": {}}
    for split in ("train", "validation"):
        xs, ps, ss = [], [], []
        for index, (name, spec) in enumerate(sources.items()):
            x, p = parts[name][split]
            repeat = int(spec.get("repeat", 1)) if split == "train" else 1
            xs += [x] * repeat
            ps += [p] * repeat
            ss.append(np.full(len(x) * repeat, index, np.int32))
            summary["counts"][f"{name}/{split}"] = {
                label: int(n) for label, n in zip(LABELS, np.bincount(p.argmax(1), None, 7))}
        arrays[f"x_{split}"], arrays[f"p_{split}"] = np.concatenate(xs), np.concatenate(ps)
        arrays[f"y_{split}"] = arrays[f"p_{split}"].argmax(1).astype(np.int32)
        arrays[f"s_{split}"] = np.concatenate(ss)
    fer = next((spec for name, spec in sources.items()
                if spec.get("kind", name) == "fer2013"), None)
    if fer is not None:
        arrays["x_test"], arrays["y_test"] = load_image_folder(Path(fer["path"]) / "test",
                                                               size)
    (out / "sources.json").write_text(json.dumps(summary, indent=2))  # before the cache
    with atomic_path(cache, ".npz") as tmp:
        np.savez(tmp, **arrays)
    return summary


def initial_model(preset: str, init: str | None, image_size: int | None = None,
                  style_mixing: float = 0.0) -> keras.Model:
    """The 2D twin (at ``image_size``, default the preset's; ``style_mixing``: see
    :func:`build_still_classifier`), its backbone taken from ``init`` (or fresh): a preset
    name, a ``.keras`` model, or a ``.weights.h5`` file of the preset's network (what a
    recipe run writes as ``<run>/<preset>.weights.h5``) or of its 2D twin (a stills stage's
    ``best.weights.h5`` or ``final.weights.h5``: taken whole, classifier included)."""
    model = build_still_classifier(preset, len(LABELS), image_size, style_mixing=style_mixing)
    if init:
        if str(init).endswith(".weights.h5"):
            if not Path(init).is_file():
                raise EmotionEncoderError(f"{init}: init weights file not found")
            network = build_model(preset)
            with warnings.catch_warnings(record=True) as caught:  # a twin's file makes Keras
                warnings.simplefilter("always")  # warn of every container before it fails
                try:
                    network.load_weights(init)
                    twin = False
                except ValueError:  # not the preset's network: its 2D twin, or neither
                    twin = True
            if twin:
                try:
                    model.load_weights(init)
                except ValueError:
                    raise EmotionEncoderError(
                        f"{init}: neither the {preset!r} network's weights nor its 2D "
                        "twin's (a stills stage's best.weights.h5)") from None
                return model
            for warning in caught:  # the preset's network loaded: its warnings are real
                warnings.warn_explicit(warning.message, warning.category, warning.filename,
                                       warning.lineno)
        else:
            loaded = load_encoder_model(init)
            if not loaded.weights_trained:
                raise EmotionEncoderError(f"init {init!r} has no trained weights")
            network = loaded.model
        deflate_into(model, network.backbone)
    return model


def distilled_targets(distill: dict, arrays, prior: np.ndarray, tau: float, out: Path
                      ) -> np.ndarray:
    """``(1 - weight) * p_train + weight * teachers`` (see the ``distill`` module); the
    teachers' probabilities are cached in ``out/teacher.npz``."""
    weight = float(distill.get("weight", 0.5))
    if not 0.0 < weight <= 1.0:
        raise EmotionEncoderError(f"distill weight {weight}: must be in (0, 1]")
    cache = out / "teacher.npz"
    if not cache.exists():
        probs = teacher_probabilities(distill.get("teachers", []), arrays["x_train"],
                                      arrays["p_train"], prior, tau)
        with atomic_path(cache, ".npz") as tmp:
            np.savez(tmp, probs=probs)
    teacher = np.load(cache)["probs"]
    if len(teacher) != len(arrays["p_train"]):
        raise EmotionEncoderError(f"{cache}: {len(teacher)} faces, the mixture has "
                                  f"{len(arrays['p_train'])}; delete it to recompute")
    return ((1.0 - weight) * arrays["p_train"] + weight * adjusted(teacher, prior, tau)
            ).astype(np.float32)


@contextmanager
def averaged_weights(model: keras.Model):
    """The optimizer's moving average of the weights (``use_ema``) in ``model`` for the
    block, the trained weights back after it."""
    trained = [v.numpy() for v in model.trainable_variables]
    model.optimizer.finalize_variable_values(model.trainable_variables)
    try:
        yield model
    finally:
        for variable, value in zip(model.trainable_variables, trained):
            variable.assign(value)


def equalized_faces(arrays, clip_limit: float) -> dict[str, np.ndarray]:
    """The mixture's arrays with every face (``x_*``) equalised by CLAHE, as a network
    read with the preprocessor's ``clahe`` sees them; targets and sources unchanged.

    >>> x = np.full((2, 48, 48, 1), 90, np.uint8); x[:, 24:] = 100
    >>> out = equalized_faces({"x_train": x, "y_train": np.array([1, 2])}, 2.0)
    >>> int(np.ptp(out["x_train"])) > 10, out["y_train"].tolist()
    (True, [1, 2])
    """
    return {k: equalize(arrays[k], clip_limit) if k.startswith("x_") else arrays[k]
            for k in arrays}


def train_mixture(stills: dict, out: Path, preset: str) -> dict:
    """Train (or resume) stage 1 on the mixture; keep the best epoch by the mean of the
    sources' balanced validation accuracy (or the last, ``keep: final``) as
    ``best.weights.h5``; return the state (also ``state.json``)."""
    keep = stills.get("keep", "best")
    if keep not in ("best", "final"):
        raise EmotionEncoderError(f"stills keep {keep!r}: 'best' (the best validation epoch) "
                                  "or 'final' (the last epoch)")
    epochs, batch_size = int(stills.get("epochs", 10)), int(stills.get("batch_size", 64))
    snapshots = snapshot_epochs(stills, str(out))
    out.mkdir(parents=True, exist_ok=True)
    channels = PRESETS[preset]["backbone"]["channels"]
    size = int(stills.get("image_size", PRESETS[preset]["backbone"]["image_size"]))
    summary = build_mixture(stills["sources"], out, size)
    arrays = np.load(out / "faces.npz")
    if stills.get("clahe"):
        arrays = equalized_faces(arrays, float(stills["clahe"]))
    state_file, last = out / "state.json", out / "last.keras"
    state = json.loads(state_file.read_text()) if state_file.exists() else \
        {"epoch": 0, "best": -1.0, "epochs": epochs, "history": []}
    if state["epochs"] != epochs:
        raise EmotionEncoderError(f"{out}: this run was started with {state['epochs']} epochs "
                                  "and its learning-rate schedule is fixed to them")
    prior = mixture_prior(arrays["p_train"])
    state["prior"] = dict(zip(LABELS, prior.round(4).tolist()))
    tau = float(stills.get("logit_adjust", 1.0))
    balance = stills.get("balance")  # checked with the config (config_keys.check_stills)
    ema = float(stills.get("ema", 0.0))  # checked there too
    if stills.get("weights"):  # trained elsewhere: seeds averaged on a GPU (training/soup.py)
        return _take_weights(Path(stills["weights"]), arrays, summary["sources"], out, preset,
                             size, channels, state)
    targets = arrays["p_train"]
    if stills.get("distill"):
        targets = distilled_targets(stills["distill"], arrays, prior, tau, out)
    if last.exists():
        model = keras.saving.load_model(last)
        if model.optimizer.use_ema != (ema > 0):
            raise EmotionEncoderError(f"{out}: this run was started {'without' if ema else 'with'}"
                                      " a moving average of the weights (stills ema)")
    else:
        model = initial_model(preset, stills.get("init"), size,
                              float(stills.get("style_mixing", 0.0)))
        steps = int(np.ceil(len(arrays["x_train"]) / batch_size))
        rate = float(stills.get("learning_rate", 1e-3))
        schedule = keras.optimizers.schedules.CosineDecay(
            0.0, max(1, steps * (epochs - 1)), warmup_target=rate, warmup_steps=steps)
        optimizer = keras.optimizers.AdamW(schedule, weight_decay=5e-4, use_ema=ema > 0,
                                           ema_momentum=ema or 0.99)
        loss = LogitAdjustedLoss(prior, tau, class_weighted=balance == "reweight")
        model.compile(optimizer=optimizer, loss=loss, metrics=["accuracy"])
    train_ds = still_batches(arrays["x_train"], targets, size, channels, batch_size,
                             training=True, mixup_alpha=float(stills.get("mixup", 0.0)),
                             erasing=float(stills.get("erasing", 0.0)),
                             rotation=float(stills.get("rotation", 0.0)),
                             mouth_swap_rate=float(stills.get("mouth_swap", 0.0)),
                             gamma=float(stills.get("gamma", 0.0)),
                             turn=float(stills.get("head_turn", 0.0)),
                             resample=balance == "resample")
    val_x = still_batches(arrays["x_validation"], arrays["p_validation"], size, channels,
                          256, training=False)
    names = summary["sources"]

    class Select(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            with averaged_weights(self.model) if ema else nullcontext():
                self._score(epoch, logs)
            state["epoch"] = epoch + 1
            with atomic_path(last, ".keras") as tmp:  # the trained weights, to resume
                self.model.save(tmp)
            state_file.write_text(json.dumps(state, indent=2))

        def _score(self, epoch, logs):
            pred = self.model.predict(val_x, verbose=0).argmax(1)
            scores = source_scores(arrays["y_validation"], pred, arrays["s_validation"], names)
            mean = scores.pop("mean_balanced")
            state["history"].append({"epoch": epoch + 1, "mean_balanced": mean, **scores,
                                     "loss": float(logs["loss"])})
            print(f"epoch {epoch + 1}: validation balanced accuracy {mean:.4f} "
                  + " ".join(f"{k} {v:.4f}" for k, v in scores.items()), flush=True)
            if mean > state["best"]:
                state["best"], state["best_epoch"] = mean, epoch + 1
                self.model.save_weights(out / "best.weights.h5")
            if epoch + 1 in snapshots:
                with atomic_path(out / f"epoch{epoch + 1}.weights.h5", ".weights.h5") as tmp:
                    self.model.save_weights(tmp)

    model.fit(train_ds, epochs=epochs, initial_epoch=state["epoch"], verbose=2,
              shuffle=False,  # the dataset shuffles itself each epoch
              callbacks=[Select(), keras.callbacks.CSVLogger(out / "log.csv", append=True)])
    model.save_weights(out / "final.weights.h5")  # the last epoch's (averaged: fit ends so)
    state["kept"] = keep
    if keep == "final":
        with atomic_path(out / "best.weights.h5", ".weights.h5") as tmp:
            shutil.copyfile(out / "final.weights.h5", tmp)
    state["kept_validation"] = state["history"][-1]["mean_balanced"] if keep == "final" \
        else state["best"]
    model.load_weights(out / "best.weights.h5")
    return _finish(model, arrays, out, size, channels, state)


def _finish(model, arrays, out: Path, size: int, channels: int, state: dict) -> dict:
    """Score the kept weights on FER2013 test (when the mixture has it); write the state."""
    if "x_test" in arrays:
        test = still_batches(arrays["x_test"], np.eye(len(LABELS), dtype=np.float32)[
            arrays["y_test"]], size, channels, 256, training=False)
        pred = model.predict(test, verbose=0).argmax(1)
        state["fer2013_test_accuracy"] = float(np.mean(pred == arrays["y_test"]))
    (out / "state.json").write_text(json.dumps(state, indent=2))
    return state


def _take_weights(path: Path, arrays, names: list[str], out: Path, preset: str, size: int,
                  channels: int, state: dict) -> dict:
    """The stage's result from a weights file of :mod:`emotion_encoder.training.soup`
    instead of a fit here: scored on the validation part like an epoch, then kept."""
    model = build_still_classifier(preset, len(LABELS), size)
    model.set_weights(load_weights(path))
    val_x = still_batches(arrays["x_validation"], arrays["p_validation"], size, channels,
                          256, training=False)
    scores = source_scores(arrays["y_validation"], model.predict(val_x, verbose=0).argmax(1),
                           arrays["s_validation"], names)
    model.save_weights(out / "best.weights.h5")
    state.update(epoch=state["epochs"], weights=str(path), best=scores.pop("mean_balanced"),
                 validation=scores)
    print(f"{path}: validation balanced accuracy {state['best']:.4f} "
          + " ".join(f"{k} {v:.4f}" for k, v in scores.items()), flush=True)
    return _finish(model, arrays, out, size, channels, state)
