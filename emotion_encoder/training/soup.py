"""Several seeds of stage 1 on the mixture from one network, and their weight averages.

One fit of the mixture stage is noisy: the kept epoch, and with it the panel, moves with
the seed (the model card's ablation). Fits that start from the same network and stay in
its basin can be averaged (a "model soup", Wortsman et al. 2022), which costs nothing at
inference. Seeds are a GPU's work; this module trains them on any Keras backend without
TensorFlow (JAX on a GPU machine that has none), from a bundle packed here:

    python -m emotion_encoder.training.soup pack configs/default-soup.yaml \\
        --mixture runs/mixture-posed/stills --out runs/soup-bundle.npz       # TensorFlow
    KERAS_BACKEND=jax python -m emotion_encoder.training.soup train \\
        runs/soup-bundle.npz --seeds 8 --out runs/soup                       # the GPU
    python -m emotion_encoder.training.soup probe configs/default-soup.yaml \\
        default runs/soup/*.npz                   # held-out probes, the shipped row first
    emotion-encoder train configs/default-soup.yaml     # stills: weights: runs/soup/...

The bundle holds the mixture's distinct faces as WebP mosaics (lossy, about 3 grey levels
RMS at quality 80, to travel small; a face that a source repeats is stored once), their
targets, the validation part, the schedule and the init (a file's float16 weights; a
shipped preset is in the package there). ``train`` fits every seed from one start (the
init and one fresh softmax head: an average needs a common start; the seeds differ in
data order, augmentation and dropout) with the recipe's schedule (AdamW, warm-up then
cosine decay, logit-adjusted loss, mixup, and the augmentation of
:func:`emotion_encoder.training.stills.still_batches`, written in numpy), scores every
epoch by :func:`~emotion_encoder.training.selection.source_scores`, and writes
``soup.json`` with float16 weight files: the best epoch of the best seed (``seed-best``),
the uniform average of the seeds' last epochs (``uniform-final``; that of their best
epochs is only scored), the same with its batch-normalisation statistics measured again
(``uniform-final-bn``, :func:`recalibrate_batch_norm`), and a greedy average (``greedy``:
seeds in order of their validation score, each kept only if the average scores no lower),
and each seed's last epoch (``seed-K-final``). More seeds of the same start can come later
(``train --first-seed 2``: one start for every seed, whatever the run) and join by
``average`` (``python -m emotion_encoder.training.soup average runs/a/uniform-final.npz
runs/b/uniform-final.npz --out runs/ab.npz``: two averages of two seeds each give the
average of the four; a recipe's ``stills/best.weights.h5`` files average the same way).
``widen`` makes a bundle whose start is the same network made wider
(:mod:`~emotion_encoder.training.widen`: ``... soup widen runs/bundle.npz --width 48 --out
runs/bundle-w48.npz``), so that width is measured from the same start; ``probe`` reads each
file's width from its weights.

>>> a = [np.ones((2, 2), np.float32), np.zeros(3, np.float32)]
>>> b = [3 * np.ones((2, 2), np.float32), np.ones(3, np.float32)]
>>> [w.tolist() for w in average_weights([a, b])]
[[[2.0, 2.0], [2.0, 2.0]], [0.5, 0.5, 0.5]]
"""

from __future__ import annotations

import argparse
import io
import json
import math
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from emotion_encoder.atomic import atomic_path
from emotion_encoder.errors import EmotionEncoderError
from emotion_encoder.labels import CANONICAL_LABELS
from emotion_encoder.models.preprocessor import standardize
from emotion_encoder.models.presets import PRESETS

TILES = 64  # a mosaic is TILES x TILES faces
QUALITY = 80


def encode_mosaics(faces: np.ndarray, quality: int = QUALITY) -> list[np.ndarray]:
    """``(n, s, s, 1)`` uint8 faces as WebP mosaics of ``TILES x TILES`` faces (bytes as
    uint8 arrays); :func:`decode_mosaics` reads them back."""
    from PIL import Image

    n, s = len(faces), faces.shape[1]
    out = []
    for start in range(0, n, TILES * TILES):
        block = np.zeros((TILES * TILES, s, s), np.uint8)
        chunk = faces[start:start + TILES * TILES, :, :, 0]
        block[:len(chunk)] = chunk
        image = block.reshape(TILES, TILES, s, s).transpose(0, 2, 1, 3).reshape(TILES * s, -1)
        buffer = io.BytesIO()
        Image.fromarray(image).save(buffer, "WEBP", quality=quality)
        out.append(np.frombuffer(buffer.getvalue(), np.uint8))
    return out


def decode_mosaics(mosaics: list[np.ndarray], n: int, side: int) -> np.ndarray:
    """The first ``n`` faces ``(n, side, side, 1)`` uint8 of :func:`encode_mosaics`' output.

    >>> faces = np.random.default_rng(0).integers(0, 255, (5, 8, 8, 1)).astype(np.uint8)
    >>> back = decode_mosaics(encode_mosaics(faces, quality=100), 5, 8)
    >>> back.shape, bool(np.abs(back.astype(int) - faces).mean() < 20)
    ((5, 8, 8, 1), True)
    """
    from PIL import Image

    blocks = []
    for data in mosaics:
        image = np.asarray(Image.open(io.BytesIO(data.tobytes())).convert("L"))
        blocks.append(image.reshape(TILES, side, TILES, side).transpose(0, 2, 1, 3)
                      .reshape(-1, side, side))
    return np.concatenate(blocks)[:n, :, :, None]


def pack(config_path: Path, mixture: Path, out: Path, quality: int = QUALITY) -> dict:
    """Write the bundle ``out`` (.npz) for ``train`` from a recipe config (its ``stills``
    section: sources, repeats, init and schedule) and the run folder holding its
    ``faces.npz`` (:func:`emotion_encoder.training.mixture.build_mixture`). Needs the
    backend that reads the init (TensorFlow here). Returns the bundle's summary."""
    from emotion_encoder.training.mixture import initial_model
    from emotion_encoder.training.recipe import read_config

    config = read_config(config_path)
    stills, preset = config["stills"], config["preset"]
    unsupported = [key for key in ("rotation", "mouth_swap", "distill", "balance", "ema",
                                       "head_turn")
                   if stills.get(key)]
    if unsupported:
        raise EmotionEncoderError(f"{config_path}: stills option {unsupported[0]!r} is not "
                                  "in the seeds' numpy pipeline (the TensorFlow recipe has it)")
    faces, sources = mixture / "faces.npz", mixture / "sources.json"
    if not faces.is_file() or not sources.is_file():
        raise EmotionEncoderError(f"{mixture}: no faces.npz / sources.json (run the "
                                  "config's stills stage once, or build_mixture)")
    names = json.loads(sources.read_text())["sources"]
    if names != list(stills["sources"]):
        raise EmotionEncoderError(f"{mixture}: its sources {names} are not the config's "
                                  f"{list(stills['sources'])}")
    arrays = np.load(faces)
    keep, repeats = [], []
    for index, name in enumerate(names):
        rows = np.flatnonzero(arrays["s_train"] == index)
        repeat = int(stills["sources"][name].get("repeat", 1))
        if len(rows) % repeat:
            raise EmotionEncoderError(f"{faces}: {name} has {len(rows)} faces, not a "
                                      f"multiple of its repeat {repeat}")
        unique = rows[:len(rows) // repeat]
        if not np.array_equal(np.tile(arrays["x_train"][unique], (repeat, 1, 1, 1)),
                              arrays["x_train"][rows]):
            raise EmotionEncoderError(f"{faces}: {name}'s faces are not {repeat} copies")
        keep.append(unique)
        repeats.append(repeat)
    keep = np.concatenate(keep)
    size = int(arrays["x_train"].shape[1])
    init = stills.get("init")
    meta = {"preset": preset, "init": init, "sources": names, "repeats": repeats, "size": size,
            "n_train": int(len(keep)), "n_validation": int(len(arrays["x_validation"])),
            "quality": quality, "config": str(config_path), "mixture": str(mixture),
            "schedule": {key: stills[key] for key in ("epochs", "batch_size", "learning_rate",
                                                     "logit_adjust", "mixup", "erasing",
                                                     "gamma", "style_mixing")
                         if key in stills}}
    bundle = {"meta": np.frombuffer(json.dumps(meta).encode(), np.uint8),
              "p_train": arrays["p_train"][keep], "s_train": arrays["s_train"][keep],
              "p_validation": arrays["p_validation"],
              "y_validation": arrays["y_validation"], "s_validation": arrays["s_validation"]}
    for part, x in (("train", arrays["x_train"][keep]), ("validation", arrays["x_validation"])):
        for i, mosaic in enumerate(encode_mosaics(x, quality)):
            bundle[f"{part}_mosaic_{i}"] = mosaic
    if init not in PRESETS:  # a shipped preset is in the package there; a file travels
        for i, w in enumerate(initial_model(preset, init, size).get_weights()):
            bundle[f"init_{i}"] = w.astype(np.float16)
    with atomic_path(out, ".npz") as tmp:
        np.savez_compressed(tmp, **bundle)
    return meta


def read_bundle(path: Path) -> dict:
    """The bundle as arrays: faces decoded, the training part expanded by its repeats."""
    if not Path(path).is_file():
        raise EmotionEncoderError(f"{path}: soup bundle not found")
    z = np.load(path)
    meta = json.loads(z["meta"].tobytes())
    data = {"meta": meta, "init": bundle_init(z, meta)}
    for part in ("train", "validation"):
        mosaics = [z[f"{part}_mosaic_{i}"]
                   for i in range(sum(k.startswith(f"{part}_mosaic_") for k in z.files))]
        data[f"x_{part}"] = decode_mosaics(mosaics, meta[f"n_{part}"], meta["size"])
    index = np.concatenate([np.tile(np.flatnonzero(z["s_train"] == i), repeat)
                            for i, repeat in enumerate(meta["repeats"])])
    data["x_train"], data["p_train"] = data["x_train"][index], z["p_train"][index]
    for key in ("p_validation", "y_validation", "s_validation"):
        data[key] = z[key]
    return data


def bundle_init(z, meta: dict) -> list[np.ndarray]:
    """The starting weights of an open bundle: its own arrays, or a shipped preset's twin."""
    if any(k.startswith("init_") for k in z.files):
        return [z[f"init_{i}"].astype(np.float32)
                for i in range(sum(k.startswith("init_") for k in z.files))]
    return preset_twin(meta["preset"], meta["init"], meta["size"])


def widen_bundle(bundle: Path, out: Path, width: int, noise: float = 0.01, seed: int = 0
                 ) -> dict:
    """A copy of ``bundle`` whose start is its init widened to ``width`` (stem; stages
    ``width * (1, 2, 4, 8)``) by :func:`~emotion_encoder.training.widen.widen_into`: the
    same function, more channels to train. Returns the new bundle's meta."""
    from emotion_encoder.models.still_classifier import build_still_classifier
    from emotion_encoder.training.widen import widen_into

    if not Path(bundle).is_file():
        raise EmotionEncoderError(f"{bundle}: soup bundle not found")
    z = np.load(bundle)
    meta = json.loads(z["meta"].tobytes())
    narrow = build_still_classifier(meta["preset"], len(CANONICAL_LABELS), meta["size"],
                                    meta.get("width"))
    narrow.set_weights(bundle_init(z, meta))
    wide = build_still_classifier(meta["preset"], len(CANONICAL_LABELS), meta["size"], width)
    try:
        widen_into(wide, narrow, np.random.default_rng(seed), noise)
    except ValueError as exc:
        raise EmotionEncoderError(f"{bundle}: {exc}") from None
    meta = {**meta, "width": int(width), "widened": {"from": str(bundle), "noise": noise}}
    arrays = {k: z[k] for k in z.files if not k.startswith("init_") and k != "meta"}
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), np.uint8)
    for i, w in enumerate(wide.get_weights()):
        arrays[f"init_{i}"] = w.astype(np.float16)
    with atomic_path(out, ".npz") as tmp:
        np.savez_compressed(tmp, **arrays)
    return meta


def weights_width(weights: list[np.ndarray]) -> int:
    """The stem width of a 2D twin's weights (its first kernel's output channels)."""
    return int(weights[0].shape[-1])


def preset_twin(preset: str, init: str, size: int) -> list[np.ndarray]:
    """The weights of ``preset``'s 2D twin with the backbone of the shipped ``init``
    preset (deflated, :func:`~emotion_encoder.training.inflate.deflate_into`)."""
    from emotion_encoder.models.loading import load_encoder_model
    from emotion_encoder.models.still_classifier import build_still_classifier
    from emotion_encoder.training.inflate import deflate_into

    model = build_still_classifier(preset, len(CANONICAL_LABELS), size)
    deflate_into(model, load_encoder_model(init).model.backbone)
    return model.get_weights()


def augment_faces(x: np.ndarray, rng: np.random.Generator, erasing: float = 0.0,
                  gamma: float = 0.0) -> np.ndarray:
    """Numpy twin of ``stills.augment`` and ``stills.random_erasing`` for ``(n, s, s, 1)``
    faces: mirror, a square crop of 80-100% of the side at a random place resized back
    (bilinear, half-pixel centres), with ``gamma`` > 1 a gamma curve ``255 (v / 255) ** g``
    with ``log g`` uniform in ``+-log gamma`` (shadows lifted or deepened), brightness
    +-32, contrast x0.7-1.3, and with probability ``erasing`` a rectangle of noise.
    Float32, not yet standardised.

    >>> x = np.arange(16, dtype=np.uint8).reshape(1, 4, 4, 1)
    >>> augment_faces(x, np.random.default_rng(0)).shape
    (1, 4, 4, 1)
    """
    n, s = len(x), x.shape[1]
    img = x[..., 0].astype(np.float32)
    flip = rng.random(n) < 0.5
    img[flip] = img[flip, :, ::-1]
    crop = rng.integers(int(s * 0.8), s + 1, n)
    top = rng.integers(0, s - crop + 1)
    left = rng.integers(0, s - crop + 1)
    grid = (np.arange(s) + 0.5)[None] * (crop[:, None] / s) - 0.5
    grid = np.clip(grid, 0.0, (crop - 1)[:, None].astype(np.float64))
    low = np.floor(grid).astype(int)
    high = np.minimum(low + 1, (crop - 1)[:, None])
    frac = (grid - low).astype(np.float32)
    rows_lo, rows_hi = top[:, None] + low, top[:, None] + high
    cols_lo, cols_hi = left[:, None] + low, left[:, None] + high
    b = np.arange(n)[:, None, None]

    def at(rows, cols):
        return img[b, rows[:, :, None], cols[:, None, :]]

    fr, fc = frac[:, :, None], frac[:, None, :]
    out = ((at(rows_lo, cols_lo) * (1 - fc) + at(rows_lo, cols_hi) * fc) * (1 - fr)
           + (at(rows_hi, cols_lo) * (1 - fc) + at(rows_hi, cols_hi) * fc) * fr)
    if gamma > 1:
        g = np.exp(rng.uniform(-np.log(gamma), np.log(gamma), (n, 1, 1))).astype(np.float32)
        out = 255.0 * (out / 255.0) ** g
    out += rng.uniform(-32.0, 32.0, (n, 1, 1)).astype(np.float32)
    mean = out.mean(axis=(1, 2), keepdims=True)
    out = (out - mean) * rng.uniform(0.7, 1.3, (n, 1, 1)).astype(np.float32) + mean
    if erasing > 0:
        area = rng.uniform(0.02, 0.25, n) * s * s
        aspect = np.exp(rng.uniform(np.log(0.3), np.log(3.3), n))
        eh = np.clip((np.sqrt(area * aspect)).astype(int), 1, s)
        ew = np.clip((np.sqrt(area / aspect)).astype(int), 1, s)
        et, el = rng.integers(0, s - eh + 1), rng.integers(0, s - ew + 1)
        r, c = np.arange(s)[None, :, None], np.arange(s)[None, None, :]
        inside = ((r >= et[:, None, None]) & (r < (et + eh)[:, None, None])
                  & (c >= el[:, None, None]) & (c < (el + ew)[:, None, None])
                  & (rng.random(n) < erasing)[:, None, None])
        out = np.where(inside, rng.uniform(0.0, 255.0, out.shape).astype(np.float32), out)
    return out[..., None]


def mix(x: np.ndarray, y: np.ndarray, alpha: float, batch_size: int,
        rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Mixup within each batch of ``batch_size`` consecutive samples, each with the batch
    reversed, own weight ``max(l, 1 - l)``, ``l ~ Beta(alpha, alpha)`` (``stills.mixup``)."""
    steps = len(x) // batch_size
    lam = rng.beta(alpha, alpha, steps * batch_size).astype(np.float32)
    lam = np.maximum(lam, 1.0 - lam).reshape(steps, batch_size)
    xb = x.reshape(steps, batch_size, *x.shape[1:])
    yb = y.reshape(steps, batch_size, -1)
    lx = lam.reshape(steps, batch_size, *([1] * (x.ndim - 1)))
    xm = lx * xb + (1 - lx) * xb[:, ::-1]
    ym = lam[..., None] * yb + (1 - lam[..., None]) * yb[:, ::-1]
    return xm.reshape(x.shape), ym.reshape(len(y), -1)


def epoch_arrays(data: dict, schedule: dict, channels: int, rng: np.random.Generator,
                 workers: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """One shuffled, augmented, standardised and mixed epoch of whole batches."""
    batch = int(schedule.get("batch_size", 64))
    order = rng.permutation(len(data["x_train"]))
    order = order[:len(order) // batch * batch]
    chunks = np.array_split(order, max(1, len(order) // 2048))
    seeds = rng.spawn(len(chunks))
    erasing, gamma = float(schedule.get("erasing", 0.0)), float(schedule.get("gamma", 0.0))

    def work(args):
        rows, seed = args
        return standardize(augment_faces(data["x_train"][rows], seed, erasing, gamma))

    with ThreadPoolExecutor(workers) as pool:
        x = np.concatenate(list(pool.map(work, zip(chunks, seeds))))
    y = data["p_train"][np.concatenate(chunks)]
    if channels != 1:
        x = np.repeat(x, channels, axis=-1)
    if float(schedule.get("mixup", 0.0)) > 0:
        x, y = mix(x, y, float(schedule["mixup"]), batch, rng)
    return x, y.astype(np.float32)


def average_weights(sets: list[list[np.ndarray]]) -> list[np.ndarray]:
    """The element-wise mean of several weight lists of one network."""
    return [np.mean([s[i] for s in sets], axis=0).astype(sets[0][i].dtype)
            for i in range(len(sets[0]))]


def save_weights(weights: list[np.ndarray], path: Path) -> Path:
    """A weight list as float16 ``w_0 ... w_k`` in an .npz (read by :func:`load_weights`)."""
    with atomic_path(path, ".npz") as tmp:
        np.savez(tmp, **{f"w_{i}": w.astype(np.float16) for i, w in enumerate(weights)})
    return path


def load_weights(path: Path) -> list[np.ndarray]:
    """The float32 weight list of a file written by :func:`save_weights`."""
    if not Path(path).is_file():
        raise EmotionEncoderError(f"{path}: weights file not found")
    z = np.load(path)
    return [z[f"w_{i}"].astype(np.float32) for i in range(len(z.files))]


def _weight_list(path: Path, preset: str) -> list[np.ndarray]:
    """The weight list of a file of :func:`save_weights` or of a recipe's stills stage
    (``stills/best.weights.h5``: ``preset``'s 2D twin), in one order."""
    if Path(path).name.endswith(".weights.h5"):
        return still_network(preset, path, len(CANONICAL_LABELS)).get_weights()
    return load_weights(path)


def recalibrate_batch_norm(model, x: np.ndarray, batch_size: int = 256) -> None:
    """Set the moving statistics of every batch normalisation in ``model`` to the mean of
    its batch statistics over ``x``: averaged weights have statistics of their own, which
    the average of the seeds' statistics only approximates."""
    import keras

    def walk(layer):
        for inner in getattr(layer, "layers", []):
            yield inner
            yield from walk(inner)

    norms = [layer for layer in walk(model)
             if isinstance(layer, keras.layers.BatchNormalization)]
    momenta = [layer.momentum for layer in norms]
    for k, start in enumerate(range(0, len(x), batch_size)):
        for layer in norms:
            layer.momentum = k / (k + 1)  # a running mean over the batches
        model(x[start:start + batch_size], training=True)
    for layer, momentum in zip(norms, momenta):
        layer.momentum = momentum


def train_seeds(bundle: Path, out: Path, seeds: list[int], budget_s: float | None = None,
                **changes) -> dict:
    """Train one fit of the bundle's schedule (``changes``, e.g. ``epochs=3``, override
    it) per seed until ``budget_s`` would be passed, then average; write weights and
    ``soup.json`` into ``out``; return the summary. Works on any Keras backend."""
    import keras

    from emotion_encoder.models.still_classifier import build_still_classifier
    from emotion_encoder.training.losses import LogitAdjustedLoss, mixture_prior
    from emotion_encoder.training.selection import source_scores

    started = time.monotonic()
    out.mkdir(parents=True, exist_ok=True)
    data = read_bundle(bundle)
    meta = data["meta"]
    schedule = {**meta["schedule"], **{k: v for k, v in changes.items() if v is not None}}
    channels = PRESETS[meta["preset"]]["backbone"]["channels"]
    epochs, batch = int(schedule.get("epochs", 8)), int(schedule.get("batch_size", 64))
    steps = len(data["x_train"]) // batch
    x_val = standardize(data["x_validation"])
    if channels != 1:
        x_val = np.repeat(x_val, channels, axis=-1)
    prior = mixture_prior(data["p_train"])
    model = build_still_classifier(meta["preset"], len(CANONICAL_LABELS), meta["size"],
                                   meta.get("width"), float(schedule.get("style_mixing", 0.0)))
    rate = float(schedule.get("learning_rate", 1e-3))
    decay = keras.optimizers.schedules.CosineDecay(
        0.0, max(1, steps * (epochs - 1)), warmup_target=rate, warmup_steps=steps)
    model.compile(optimizer=keras.optimizers.AdamW(decay, weight_decay=5e-4),
                  loss=LogitAdjustedLoss(prior, float(schedule.get("logit_adjust", 1.0))))
    start = [w.copy() for w in data["init"]]  # one start for every seed, a fresh head too:
    head = len(start) - 2                     # its kernel (Glorot uniform), then its bias
    limit = math.sqrt(6.0 / sum(start[head].shape))
    start[head] = np.random.default_rng(0).uniform(-limit, limit, start[head].shape
                                                   ).astype(np.float32)
    start[head + 1] = np.zeros_like(start[head + 1])

    def score(weights: list | Path) -> dict:
        model.set_weights(load_weights(weights) if isinstance(weights, Path) else weights)
        pred = model.predict(x_val, batch_size=512, verbose=0).argmax(1)
        return source_scores(data["y_validation"], pred, data["s_validation"], meta["sources"])

    summary = {"bundle": str(bundle), "backend": keras.backend.backend(),
               "schedule": schedule, "seeds": []}
    finals, bests = [], []
    for seed in seeds:
        elapsed = time.monotonic() - started
        per_seed = elapsed / len(finals) if finals else 0.0
        if budget_s is not None and finals and elapsed + per_seed > budget_s:
            print(f"seed {seed}: skipped, {elapsed:.0f} s spent of {budget_s:.0f}", flush=True)
            break
        rng = np.random.default_rng(seed)
        keras.utils.set_random_seed(seed)
        model.set_weights(start)
        for variable in model.optimizer.variables:
            variable.assign(np.zeros(variable.shape, variable.dtype))
        record = {"seed": seed, "history": [], "best": -1.0}
        with ThreadPoolExecutor(1) as ahead:
            upcoming = ahead.submit(epoch_arrays, data, schedule, channels, rng)
            for epoch in range(epochs):
                tick = time.monotonic()
                x, y = upcoming.result()
                if epoch + 1 < epochs:
                    upcoming = ahead.submit(epoch_arrays, data, schedule, channels, rng)
                fit = model.fit(x, y, batch_size=batch, epochs=1, shuffle=False, verbose=0)
                current = model.get_weights()
                scores = score(current)
                model.set_weights(current)
                record["history"].append({"epoch": epoch + 1, **scores,
                                          "loss": float(fit.history["loss"][-1]),
                                          "seconds": round(time.monotonic() - tick, 1)})
                print(f"seed {seed} epoch {epoch + 1}: {scores['mean_balanced']:.4f} "
                      f"loss {fit.history['loss'][-1]:.4f} "
                      f"({time.monotonic() - tick:.0f} s)", flush=True)
                if scores["mean_balanced"] > record["best"]:
                    record["best"], record["best_epoch"] = scores["mean_balanced"], epoch + 1
                    best = current
        record["final"] = record["history"][-1]["mean_balanced"]
        finals.append(current)
        bests.append(best)
        save_weights(current, out / f"seed-{seed}-final.npz")
        summary["seeds"].append(record)
        _write(out, summary, finals, bests)
    if not finals:
        raise EmotionEncoderError(f"{bundle}: no seed trained within the budget")
    order = np.argsort([-r["final"] for r in summary["seeds"]])
    chosen = [int(order[0])]
    greedy_score = summary["seeds"][chosen[0]]["final"]
    for i in order[1:]:
        trial = score(average_weights([finals[j] for j in chosen + [int(i)]]))
        if trial["mean_balanced"] >= greedy_score:
            chosen.append(int(i))
            greedy_score = trial["mean_balanced"]
    greedy = average_weights([finals[j] for j in chosen])
    save_weights(greedy, out / "greedy.npz")
    summary["greedy"] = {"seeds": [summary["seeds"][j]["seed"] for j in chosen],
                         **score(greedy)}
    uniform = average_weights(finals)
    summary["uniform-final"] = score(uniform)
    summary["uniform-best"] = score(average_weights(bests))
    model.set_weights(uniform)
    faces = epoch_arrays(data, schedule, channels, np.random.default_rng(len(seeds)))[0]
    recalibrate_batch_norm(model, faces[:40 * 256])
    summary["uniform-final-bn"] = score(save_weights(model.get_weights(),
                                                     out / "uniform-final-bn.npz"))
    summary["seconds"] = round(time.monotonic() - started, 1)
    _write(out, summary, finals, bests, weights=False)
    return summary


def _write(out: Path, summary: dict, finals: list, bests: list, weights: bool = True) -> None:
    """The summary, and (after each seed) the best seed's best epoch and the uniform
    average of the last epochs so far, so that a run stopped early still leaves its work."""
    if weights:
        top = int(np.argmax([r["best"] for r in summary["seeds"]]))
        save_weights(bests[top], out / "seed-best.npz")
        summary["seed-best"] = {"seed": summary["seeds"][top]["seed"],
                                "epoch": summary["seeds"][top]["best_epoch"],
                                "mean_balanced": summary["seeds"][top]["best"]}
        save_weights(average_weights(finals), out / "uniform-final.npz")
    with atomic_path(out / "soup.json", ".json") as tmp:
        Path(tmp).write_text(json.dumps(summary, indent=2))


def probe(config_path: Path, weights: list[Path], cache: Path, shifts: int = 0) -> str:
    """Score weight files of :func:`save_weights` on the config's ``probes`` (held-out
    people) as 2D networks, as the ablation does (:func:`~emotion_encoder.training.ablation.
    probe_scores`); the markdown table, with each file's validation score from the
    ``soup.json`` beside it. A preset name instead of a file gives the shipped network's
    row (each still a static clip through the whole network, as the panel reads it).
    ``shifts``: test-time crops moved by up to that many pixels, averaged (files only).
    Files joined by ``+`` (``a.npz+b.npz``) are one row: an ensemble, the mean of their
    probabilities (several networks at inference, against their weights averaged). A
    recipe's stills stage (``runs/X/stills/best.weights.h5``) is read as the preset's 2D
    twin."""
    from emotion_encoder.models.loading import load_encoder_model
    from emotion_encoder.training.ablation import (ablation_table, probe_scores,
                                                   still_as_clips)
    from emotion_encoder.training.recipe import read_yaml

    config = read_yaml(config_path)
    if not isinstance(config.get("probes"), dict):
        raise EmotionEncoderError(f"{config_path}: no 'probes' mapping to score on")
    rows = {}
    for path in weights:
        if str(path) in PRESETS:
            network = load_encoder_model(str(path)).model
            frames = network.backbone.num_frames

            def static_clips(x, training=False, network=network, frames=frames):
                x = np.asarray(x)  # 32 clips at a time: 16-frame activations are large
                return np.concatenate([np.asarray(network(
                    np.repeat(x[i:i + 32], frames, axis=1), training=training)["probs"])
                    for i in range(0, len(x), 32)])

            rows[f"{path} (shipped, whole network)"] = {
                "validation": float("nan"), "probes": probe_scores(
                    static_clips, config["preset"], config["probes"], cache)}
            continue
        files = [Path(part) for part in str(path).split("+")]
        stills = [still_network(config["preset"], file, len(CANONICAL_LABELS))
                  for file in files]

        def ensemble(x, training=False, stills=stills):
            return np.mean([np.asarray(still(x, training=training)) for still in stills], axis=0)
        own = _validation_score(path) if len(files) == 1 else float("nan")
        rows[" + ".join(_row_name(file) for file in files)] = {
            "validation": own, "probes": probe_scores(still_as_clips(ensemble), config["preset"],
                                                      config["probes"], cache, shifts=shifts)}
    return ablation_table(rows, list(config["probes"]))


def still_network(preset: str, path: Path, classes: int, size: int | None = None):
    """``preset``'s 2D twin (at ``size``) with the weights in ``path``: a stills stage's
    ``best.weights.h5`` / ``final.weights.h5`` or a seed's ``.npz`` of :func:`save_weights`
    (any width)."""
    from emotion_encoder.models.still_classifier import build_still_classifier

    path = Path(path)
    if not path.is_file():
        raise EmotionEncoderError(f"{path}: weights file not found")
    if path.name.endswith(".weights.h5"):
        model = build_still_classifier(preset, classes, size)
        model.load_weights(path)
        return model
    weights = load_weights(path)
    model = build_still_classifier(preset, classes, size, width=weights_width(weights))
    try:
        model.set_weights(weights)
    except ValueError as exc:
        raise EmotionEncoderError(f"{path}: not a {preset} 2D network ({exc})") from None
    return model


def _row_name(file: Path) -> str:
    """``soup/seed-0-final`` for a seed's file, ``run/stills/best.weights.h5`` for a stage's."""
    if file.name.endswith(".weights.h5"):
        return f"{file.parent.parent.name}/{file.parent.name}/{file.name}"
    return f"{file.parent.name}/{file.stem}"


def _validation_score(path: Path) -> float:
    """A weight file's mean balanced validation score from its run's ``soup.json`` (a
    stills stage's from its ``state.json``: the kept epoch's for ``best.weights.h5``, the
    last epoch's for ``final.weights.h5``)."""
    if path.name.endswith(".weights.h5"):
        file = path.parent / "state.json"
        state = json.loads(file.read_text()) if file.is_file() else {}
        if path.name == "final.weights.h5" and state.get("history"):
            return float(state["history"][-1]["mean_balanced"])
        return float(state.get("kept_validation", state.get("best", "nan")))
    summary = path.parent / "soup.json"
    scored = json.loads(summary.read_text()) if summary.is_file() else {}
    own = scored.get(path.stem, {}).get("mean_balanced", float("nan"))
    for record in scored.get("seeds", []):  # a seed's last epoch
        if path.stem == f"seed-{record['seed']}-final":
            own = record["final"]
    return own


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    p = commands.add_parser("pack", help="bundle a mixture run for train (TensorFlow here)")
    p.add_argument("config", type=Path, help="the recipe config (its stills section)")
    p.add_argument("--mixture", type=Path, required=True, help="run folder with faces.npz")
    p.add_argument("--out", type=Path, required=True, help="bundle file (.npz)")
    p.add_argument("--quality", type=int, default=QUALITY, help="WebP quality of the faces")
    t = commands.add_parser("train", help="train the seeds and average them (any backend)")
    t.add_argument("bundle", type=Path)
    t.add_argument("--out", type=Path, required=True, help="folder for weights and soup.json")
    t.add_argument("--seeds", type=int, default=8, help="number of seeds")
    t.add_argument("--first-seed", type=int, default=0,
                   help="seeds first-seed, first-seed + 1, ... (more seeds of one start)")
    t.add_argument("--budget-minutes", type=float, default=None,
                   help="start no seed that would end after this")
    t.add_argument("--learning-rate", type=float, default=None, help="override the bundle's")
    t.add_argument("--epochs", type=int, default=None, help="override the bundle's")
    w = commands.add_parser("widen", help="a bundle whose start is its init made wider")
    w.add_argument("bundle", type=Path)
    w.add_argument("--width", type=int, required=True, help="stem width (default's is 32)")
    w.add_argument("--noise", type=float, default=0.01,
                   help="noise on the new channels, a fraction of each kernel's spread")
    w.add_argument("--out", type=Path, required=True, help="the new bundle (.npz)")
    a = commands.add_parser("average", help="the uniform average of weight files")
    a.add_argument("weights", type=Path, nargs="+",
                   help="files written by train, or recipes' stills/*.weights.h5")
    a.add_argument("--preset", default="default", help="the stills files' preset")
    a.add_argument("--out", type=Path, required=True, help="the averaged file (.npz)")
    q = commands.add_parser("probe", help="score weight files on the config's probes")
    q.add_argument("config", type=Path, help="a config with a 'probes' section")
    q.add_argument("weights", type=Path, nargs="+",
                   help="files written by train (a+b: their ensemble), a recipe's "
                   "stills/best.weights.h5, or a preset name (the shipped network)")
    q.add_argument("--cache", type=Path, default=Path("runs/probe-crops"),
                   help="face crops of the probes, reused between runs")
    q.add_argument("--shifts", type=int, default=0,
                   help="average the 3 x 3 grid of crops moved by this many pixels")
    args = parser.parse_args()
    try:
        if args.command == "probe":
            print(probe(args.config, args.weights, args.cache, args.shifts))
            return
        if args.command == "average":
            save_weights(average_weights([_weight_list(w, args.preset) for w in args.weights]),
                         args.out)
            print(f"{args.out}: the average of {len(args.weights)} files")
            return
        if args.command == "widen":
            result = widen_bundle(args.bundle, args.out, args.width, args.noise)
        elif args.command == "pack":
            result = pack(args.config, args.mixture, args.out, args.quality)
        else:
            budget = None if args.budget_minutes is None else 60.0 * args.budget_minutes
            seeds = list(range(args.first_seed, args.first_seed + args.seeds))
            result = train_seeds(args.bundle, args.out, seeds, budget,
                                 learning_rate=args.learning_rate, epochs=args.epochs)
    except EmotionEncoderError as exc:
        raise SystemExit(f"error: {exc}") from None
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
