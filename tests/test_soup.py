"""Seeds of the mixture stage and their weight averages (training/soup.py): the bundle that
travels to a GPU machine, the numpy augmentation, and a soup feeding the recipe."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from emotion_encoder.errors import EmotionEncoderError
from emotion_encoder.training.soup import (augment_faces, average_weights, decode_mosaics,
                                           encode_mosaics, load_weights, mix, pack,
                                           save_weights)


def test_faces_cross_mosaics_in_order_and_come_back_close():
    rng = np.random.default_rng(0)
    n = 64 * 64 + 7  # two mosaics, the second nearly empty
    shade = rng.integers(20, 235, n)
    ramp = np.tile(np.linspace(-15, 15, 48), (48, 1))[None]
    faces = np.clip(shade[:, None, None] + ramp, 0, 255).astype(np.uint8)[..., None]
    mosaics = encode_mosaics(faces)
    assert len(mosaics) == 2 and all(m.dtype == np.uint8 for m in mosaics)
    back = decode_mosaics(mosaics, n, 48)
    assert back.shape == faces.shape and back.dtype == np.uint8
    error = np.abs(back.astype(int) - faces.astype(int))
    assert error.mean() < 3  # quality 80 on smooth faces
    np.testing.assert_allclose(back.mean(axis=(1, 2, 3)), faces.mean(axis=(1, 2, 3)), atol=3)


def test_augmentation_mirrors_crops_and_erases_like_the_recipe():
    rng = np.random.default_rng(1)
    ramp = np.tile(np.linspace(0, 240, 48), (48, 1)).astype(np.uint8)
    out = augment_faces(np.repeat(ramp[None, :, :, None], 400, axis=0), rng)
    assert out.shape == (400, 48, 48, 1) and out.dtype == np.float32
    steps = np.diff(out[..., 0], axis=2)
    rising, falling = (steps >= -1e-3).all(axis=(1, 2)), (steps <= 1e-3).all(axis=(1, 2))
    assert (rising | falling).all()  # a crop of a ramp, resized, is still a ramp
    assert 150 < falling.sum() < 250  # mirrored about half the time
    spans = out[..., 0].max(axis=(1, 2)) - out[..., 0].min(axis=(1, 2))
    assert spans.min() < 0.85 * spans.max()  # crops of 80-100% and contrast 0.7-1.3 vary

    flat = np.full((300, 48, 48, 1), 100, np.uint8)
    plain = augment_faces(flat, rng)
    assert plain[..., 0].std(axis=(1, 2)).max() < 1e-3  # still one grey level per face
    erased = augment_faces(flat, rng, erasing=1.0)
    assert (erased[..., 0].std(axis=(1, 2)) > 5).all()  # every face has a noise patch
    grey = np.median(erased, axis=(1, 2), keepdims=True)
    assert 0.01 < (np.abs(erased - grey) > 1).mean() < 0.3  # 2-25% of the face


def test_gamma_curve_lifts_and_deepens_shadows_in_both_pipelines():
    import tensorflow as tf

    from emotion_encoder.training.stills import random_gamma, still_batches

    dark = np.full((2000, 48, 48, 1), 64, np.uint8)  # 64 -> 255 (64/255) ** g: 16 to 128
    plain = augment_faces(dark, np.random.default_rng(3))[:, 0, 0, 0]
    curved = augment_faces(dark, np.random.default_rng(3), gamma=2.0)[:, 0, 0, 0]
    assert plain.min() >= 32 - 1e-3 and plain.max() <= 96 + 1e-3  # brightness +-32 only
    assert curved.min() < 16 and curved.max() > 112  # g = 2 deepens, g = 1/2 lifts
    assert 0.4 < np.mean(curved < plain) < 0.6  # as often darker as lighter
    face = tf.constant(np.linspace(0, 255, 48 * 48).reshape(48, 48, 1), tf.float32)
    values = np.stack([random_gamma(face, 2.0).numpy() for _ in range(200)])
    assert np.allclose(values[:, 0, 0], 0) and np.allclose(values[:, -1, -1], 255)
    mid = values[:, 24, 0, 0]  # 127.6 before the curve: 64 at g = 2, 180 at g = 1/2
    assert mid.min() < 75 and mid.max() > 170 and (np.diff(values.reshape(200, -1)) >= 0).all()
    ramp = np.repeat(np.tile(np.linspace(0, 240, 48), (48, 1)).astype(np.uint8)[None, ..., None],
                     64, axis=0)  # standardised, an affine change of a ramp is a ramp again
    targets = np.eye(7, dtype=np.float32)[np.zeros(64, int)]

    def bend(g):  # per face, the largest distance of its mean row from a straight line
        batch = next(iter(still_batches(ramp, targets, 48, 1, 64, training=True, gamma=g)))
        rows = batch[0].numpy()[..., 0].mean(axis=1)
        t = np.arange(48)
        fits = [np.polyval(np.polyfit(t, row, 1), t) for row in rows]
        return np.abs(rows - np.array(fits)).max(axis=1)
    assert bend(0.0).max() < 0.05 and np.median(bend(2.0)) > 0.1


def test_mixup_keeps_each_sample_dominant_and_mixes_inputs_as_targets():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(32, 4, 4, 1)).astype(np.float32)
    y = np.eye(7, dtype=np.float32)[np.arange(32) % 7]
    xm, ym = mix(x, y, 0.2, 8, rng)
    assert xm.shape == x.shape and ym.shape == y.shape
    np.testing.assert_allclose(ym.sum(1), 1.0, atol=1e-6)
    own = ym[np.arange(32), np.arange(32) % 7]
    partner = (np.arange(32) // 8) * 8 + 7 - np.arange(32) % 8  # the batch reversed
    lam = np.where(np.arange(32) % 7 == partner % 7, 1.0, own)  # same class: weight unseen
    assert (own >= 0.5 - 1e-6).all()
    mixed = lam[:, None, None, None] * x + (1 - lam[:, None, None, None]) * x[partner]
    keep = np.arange(32) % 7 != partner % 7
    np.testing.assert_allclose(xm[keep], mixed[keep], atol=1e-5)


def test_weights_average_and_round_trip_as_float16(tmp_path):
    a = [np.full((3, 2), 1.0, np.float32), np.array([0.5, -2.0], np.float32)]
    b = [np.full((3, 2), 2.0, np.float32), np.array([1.5, 2.0], np.float32)]
    mean = average_weights([a, b])
    np.testing.assert_array_equal(mean[0], np.full((3, 2), 1.5))
    np.testing.assert_array_equal(mean[1], [1.0, 0.0])
    back = load_weights(save_weights(mean, tmp_path / "soup.npz"))
    assert [w.dtype for w in back] == [np.float32, np.float32]
    np.testing.assert_array_equal(back[1], mean[1])
    with pytest.raises(EmotionEncoderError, match="nope.npz: weights file not found"):
        load_weights(tmp_path / "nope.npz")
    save_weights(a, tmp_path / "a.npz")
    save_weights(b, tmp_path / "b.npz")
    done = subprocess.run([sys.executable, "-m", "emotion_encoder.training.soup", "average",
                           str(tmp_path / "a.npz"), str(tmp_path / "b.npz"),
                           "--out", str(tmp_path / "ab.npz")], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "the average of 2 files" in done.stdout
    for mine, theirs in zip(load_weights(tmp_path / "ab.npz"), mean):
        np.testing.assert_array_equal(mine, theirs)


def test_recipes_still_networks_average_with_seed_files(tmp_path):
    """A recipe's ``stills/*.weights.h5`` (the preset's 2D twin) averages with a seed's
    .npz in one weight order."""
    from emotion_encoder.models.still_classifier import build_still_classifier

    model = build_still_classifier("fast", 7)
    first = model.get_weights()
    model.save_weights(tmp_path / "first.weights.h5")
    second = [w + 1.0 for w in first]
    save_weights(second, tmp_path / "second.npz")
    done = subprocess.run([sys.executable, "-m", "emotion_encoder.training.soup", "average",
                           str(tmp_path / "first.weights.h5"), str(tmp_path / "second.npz"),
                           "--preset", "fast", "--out", str(tmp_path / "both.npz")],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    both = load_weights(tmp_path / "both.npz")
    assert len(both) == len(first)
    for mine, a, b in zip(both, first, load_weights(tmp_path / "second.npz"), strict=True):
        np.testing.assert_allclose(mine, (a + b) / 2, rtol=2e-3, atol=2e-3)  # float16 file


@pytest.mark.slow
@pytest.mark.training
def test_seeds_are_bundled_trained_averaged_and_feed_the_recipe(tmp_path, face_models):
    from test_mixture import tiny_stills, write_three_sources

    from emotion_encoder.models.still_classifier import build_still_classifier
    from emotion_encoder.training.mixture import build_mixture
    from emotion_encoder.training.recipe import run_recipe
    from emotion_encoder.training.soup import (pack, probe, read_bundle, train_seeds,
                                               widen_bundle)

    sources = write_three_sources(tmp_path)
    soup = tmp_path / "soup"
    config = tmp_path / "soup.yaml"
    config.write_text(json.dumps({
        "preset": "fast", "out": str(tmp_path / "run"),
        "stills": {**tiny_stills(sources), "init": "fast",
                   "weights": str(soup / "uniform-final.npz")},
        "heads": {"epochs": 1, "variants": 1}}))
    build_mixture(sources, tmp_path / "mixture", 48)
    meta = pack(config, tmp_path / "mixture", tmp_path / "bundle.npz")
    assert meta["repeats"] == [1, 2, 1] and meta["n_train"] == 20 + 8 + 2
    assert meta["init"] == "fast" and meta["schedule"]["epochs"] == 1
    faces, data = np.load(tmp_path / "mixture" / "faces.npz"), read_bundle(tmp_path / "bundle.npz")
    assert data["x_train"].shape == faces["x_train"].shape  # CK+'s faces repeated again
    np.testing.assert_array_equal(data["p_train"], faces["p_train"])
    assert np.abs(data["x_train"].astype(int) - faces["x_train"]).mean() < 8

    summary = train_seeds(tmp_path / "bundle.npz", soup, [0, 1])
    assert [r["seed"] for r in summary["seeds"]] == [0, 1]
    assert all(len(r["history"]) == 1 and set(r["history"][0]) >= {"fer2013", "ckplus",
                                                                   "mean_balanced"}
               for r in summary["seeds"])
    first = max(summary["seeds"], key=lambda r: r["final"])["seed"]
    assert summary["greedy"]["seeds"][0] == first
    assert json.loads((soup / "soup.json").read_text())["greedy"] == summary["greedy"]
    seeds = [load_weights(soup / f"{name}.npz") for name in ("seed-best", "uniform-final")]
    finals = [load_weights(soup / f"seed-{seed}-final.npz") for seed in (0, 1)]
    for mine, theirs in zip(average_weights(finals), seeds[1]):  # float16 files
        np.testing.assert_allclose(mine, theirs, atol=2e-3, rtol=2e-3)
    assert not np.array_equal(seeds[0][0], seeds[1][0])  # one seed is not their average
    assert summary["seed-best"]["seed"] in (0, 1) and summary["seed-best"]["epoch"] == 1
    measured = load_weights(soup / "uniform-final-bn.npz")
    same = [np.array_equal(a, b) for a, b in zip(measured, seeds[1])]
    assert not all(same) and sum(same) > len(same) // 2  # only the moving statistics moved
    assert set(summary["uniform-final-bn"]) >= {"fer2013", "mean_balanced"}

    probes = tmp_path / "probes.yaml"
    probes.write_text(json.dumps({"preset": "fast", "probes": {
        "stills": {"path": sources["lfw"]["path"]}}}))
    table = probe(probes, [Path("fast"), soup / "greedy.npz", soup / "seed-best.npz"],
                  tmp_path / "crops")
    rows = [line.split(" | ") for line in table.splitlines()[2:]]
    assert [row[0] for row in rows] == ["| fast (shipped, whole network)", "| soup/greedy",
                                        "| soup/seed-best"]
    assert rows[1][1] == f"{summary['greedy']['mean_balanced']:.1%}"
    assert all(row[2].endswith("%)") for row in rows)  # the one probe, accuracy (balanced)
    both = probe(probes, [Path(f"{soup}/seed-0-final.npz+{soup}/seed-1-final.npz")],
                 tmp_path / "crops").splitlines()[2].split(" | ")  # an ensemble, one row
    assert both[:2] == ["| soup/seed-0-final + soup/seed-1-final", "nan%"]
    assert both[2].endswith("%)")

    wide = widen_bundle(tmp_path / "bundle.npz", tmp_path / "wide.npz", width=24)
    assert wide["width"] == 24 and wide["n_train"] == meta["n_train"]
    widened = read_bundle(tmp_path / "wide.npz")
    assert widened["init"][0].shape[-1] == 24 and len(widened["init"]) == len(data["init"])
    np.testing.assert_array_equal(widened["x_validation"], data["x_validation"])
    trained = train_seeds(tmp_path / "wide.npz", tmp_path / "soup-wide", [0])
    table = probe(probes, [tmp_path / "soup-wide" / "seed-0-final.npz"], tmp_path / "crops")
    row = table.splitlines()[2].split(" | ")  # the width read from the file
    assert row[:2] == ["| soup-wide/seed-0-final", f"{trained['seeds'][0]['final']:.1%}"]
    moved = probe(probes, [tmp_path / "soup-wide" / "seed-0-final.npz"], tmp_path / "crops",
                  shifts=2).splitlines()[2].split(" | ")  # nine shifted crops averaged
    assert moved[:2] == row[:2] and moved[2].endswith("%)")

    run_recipe(config)  # the stills stage takes the soup; the heads train on it
    state = json.loads((tmp_path / "run" / "stills" / "state.json").read_text())
    assert state["weights"] == str(soup / "uniform-final.npz")
    assert "fer2013_test_accuracy" in state and set(state["validation"]) >= {"fer2013", "lfw"}
    still = build_still_classifier("fast", 7)
    still.load_weights(tmp_path / "run" / "stills" / "best.weights.h5")
    for mine, theirs in zip(still.get_weights(), seeds[1]):
        np.testing.assert_array_equal(mine, theirs)
    stage, same = [line.split(" | ") for line in probe(
        probes, [tmp_path / "run" / "stills" / "best.weights.h5", soup / "uniform-final.npz"],
        tmp_path / "crops").splitlines()[2:]]  # a recipe's stills stage, read as the seeds
    assert stage[:2] == ["| run/stills/best.weights.h5", f"{state['best']:.1%}"]
    assert stage[2:] == same[2:]  # the same network: the same readings
    assert (tmp_path / "run" / "fast.weights.h5").exists()
    with pytest.raises(EmotionEncoderError, match="soup bundle not found"):
        train_seeds(tmp_path / "none.npz", soup, [0])
    swapped = json.loads(config.read_text())
    swapped["stills"]["mouth_swap"] = 0.3
    config.write_text(json.dumps(swapped))
    with pytest.raises(EmotionEncoderError, match="'mouth_swap' is not in the seeds'"):
        pack(config, tmp_path / "mixture", tmp_path / "other.npz")


def test_batch_norm_statistics_are_measured_again_on_given_faces():
    import keras

    from emotion_encoder.training.soup import recalibrate_batch_norm

    inner = keras.Sequential([keras.Input((4,)), keras.layers.BatchNormalization(momentum=0.9)])
    model = keras.Sequential([keras.Input((4,)), inner, keras.layers.Dense(2)])
    x = np.random.default_rng(3).normal(5.0, 2.0, (2048, 4)).astype(np.float32)
    recalibrate_batch_norm(model, x, batch_size=256)
    norm = inner.layers[0]
    np.testing.assert_allclose(np.asarray(norm.moving_mean), x.mean(0), atol=0.05)
    np.testing.assert_allclose(np.asarray(norm.moving_variance), x.var(0), rtol=0.05)
    assert norm.momentum == 0.9  # put back


@pytest.mark.parametrize("option", [{"balance": "resample"}, {"ema": 0.998},
                                    {"rotation": 10.0}])
def test_a_bundle_refuses_stills_options_the_seeds_do_not_train_with(tmp_path, option):
    """Seeds trained from the bundle would silently drop the option."""
    config = tmp_path / "c.yaml"
    config.write_text(json.dumps({
        "preset": "fast", "out": "runs/x", "heads": {"epochs": 1},
        "stills": {"sources": {"lfw": {"kind": "manifest", "path": "l.csv"}}, **option}}))
    name = next(iter(option))
    with pytest.raises(EmotionEncoderError, match=f"stills option '{name}' is not in the "
                                                  "seeds' numpy pipeline"):
        pack(config, tmp_path / "run", tmp_path / "bundle.npz")
    assert not (tmp_path / "bundle.npz").exists()
