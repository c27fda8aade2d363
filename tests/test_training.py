"""The training recipe end to end on a tiny still-face set the test writes itself."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from emotion_encoder.errors import EmotionEncoderError
from emotion_encoder.training.recipe import read_config
from emotion_encoder.training.motion_clips import moving_clip

FER_CLASSES = ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise")


def test_moving_clip_moves_smoothly():
    image = np.zeros((1, 48, 48, 1), np.uint8)
    image[0, 16:32, 20:28] = 255
    clip = moving_clip(image, 16, np.random.default_rng(0)).astype(float)
    steps = np.abs(np.diff(clip, axis=0)).mean(axis=(1, 2, 3))
    assert clip.shape == (16, 48, 48, 1)
    assert np.abs(clip[0] - clip[-1]).mean() > steps.max()  # drifts, without jumps


def test_moving_clip_keeps_the_order_of_a_sequence():
    frames = np.stack([np.full((48, 48, 1), v, np.uint8) for v in (50, 100, 150, 200)])
    clip = moving_clip(frames, 16, np.random.default_rng(1), brightness=0.0)
    means = clip.mean(axis=(1, 2, 3))
    assert means[0] == pytest.approx(50, abs=1) and means[-1] == pytest.approx(200, abs=1)
    assert np.all(np.diff(means) >= -1)


def test_random_erasing_fills_one_rectangle_of_bounded_area():
    import tensorflow as tf

    from emotion_encoder.training.stills import random_erasing

    image = np.full((48, 48, 1), 300.0, np.float32)  # outside the 0-255 noise range
    for seed in range(20):
        tf.random.set_seed(seed)
        erased = random_erasing(image, 1.0).numpy()[..., 0] < 300
        rows, cols = np.nonzero(erased)
        box = (rows.max() - rows.min() + 1) * (cols.max() - cols.min() + 1)
        assert erased.sum() == box  # one solid rectangle
        assert 0.015 * 48 * 48 <= box <= 0.26 * 48 * 48
    np.testing.assert_array_equal(random_erasing(image, 0.0).numpy(), image)


def test_rotate_turns_a_face_about_its_centre_within_the_bound():
    import tensorflow as tf

    from emotion_encoder.training.stills import rotate

    bar = np.zeros((49, 49, 1), np.float32)
    bar[4:45, 24] = 1.0  # a vertical line through the centre
    angles = []
    for seed in range(12):
        tf.random.set_seed(seed)
        turned = rotate(bar, 20.0).numpy()[..., 0]
        assert turned[24, 24] > 0.9  # the centre stays put
        rows, cols = np.nonzero(turned > 0.5)
        slope = np.polyfit(rows, cols, 1)[0]  # columns per row: tan of the lean
        angles.append(np.degrees(np.arctan(slope)))
    assert max(abs(a) for a in angles) <= 20.5
    assert max(angles) > 5 and min(angles) < -5  # both ways
    np.testing.assert_array_equal(rotate(bar, 0.0).numpy(), bar)


def test_a_turned_head_moves_the_nose_towards_the_turn_and_narrows_the_far_cheek():
    import tensorflow as tf

    from emotion_encoder.training.stills import head_turn

    face = np.zeros((8, 49, 1), np.float32)
    face[:, [10, 24, 38]] = 1.0  # the left cheek, the nose, the right cheek
    moves = []
    for seed in range(40):
        tf.random.set_seed(seed)
        row = head_turn(face, 30.0).numpy()[0, :, 0]
        peaks = [c for c in range(1, 48) if row[c] > 0.3 and row[c] >= row[c - 1]
                 and row[c] >= row[c + 1]]
        left, nose, right = peaks  # all three stay in view up to 30 degrees
        moves.append(nose - 24)
        if abs(nose - 24) >= 7:  # the cheek on the side the nose moved to comes closer
            near, far = (right - nose, nose - left) if nose > 24 else (nose - left, right - nose)
            assert near < far - 2, (seed, peaks)
    moves = np.array(moves)
    assert 0.3 < np.mean(moves == 0) < 0.7  # half the faces stay frontal
    assert moves.max() >= 6 and moves.min() <= -6 and np.abs(moves).max() <= 11  # r sin 30
def test_mixup_keeps_a_dominant_sample_and_matching_labels():
    import tensorflow as tf

    from emotion_encoder.training.stills import mixup

    x = np.stack([np.full((4, 4, 1), v, np.float32) for v in (0.0, 10.0, 20.0, 30.0)])
    y = np.eye(7, dtype=np.float32)[[0, 1, 2, 3]]
    tf.random.set_seed(0)
    mx, my = (t.numpy() for t in mixup(tf.constant(x), tf.constant(y), 0.4))
    np.testing.assert_allclose(my.sum(axis=1), 1.0, rtol=1e-6)
    own = my[np.arange(4), [0, 1, 2, 3]]
    assert np.all(own >= 0.5) and np.any(own < 0.999)
    partner = x[::-1, 0, 0, 0]
    np.testing.assert_allclose(mx[:, 0, 0, 0], own * x[:, 0, 0, 0] + (1 - own) * partner,
                               rtol=1e-5, atol=1e-4)


def test_config_errors_name_the_file(tmp_path):
    with pytest.raises(EmotionEncoderError, match="nope.yaml: config file not found"):
        read_config(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("preset: default\n")
    with pytest.raises(EmotionEncoderError, match="bad.yaml: missing key 'out'"):
        read_config(bad)
    bad.write_text("{preset: default, out: r, stills: {}, heads: {}, zoom: [1.0, 1.1]}\n")
    with pytest.raises(EmotionEncoderError, match="bad.yaml: 'zoom' must be a mapping"):
        read_config(bad)


@pytest.mark.parametrize("changes, message", [
    ({"stills": {"data": "f", "learing_rate": 0.1}},
     "c.yaml: unknown key 'learing_rate' in stills \\(did you mean 'learning_rate'\\?\\)"),
    ({"stills": {"data": "f", "logit_adjust": 1.0}},
     "c.yaml: stills option 'logit_adjust' needs 'sources'"),
    ({"stills": {"epochs": 3}}, "c.yaml: stills needs either 'data'"),
    ({"stills": {"sources": {"lfw": {"kind": "manifest"}}}},
     "c.yaml: stills source 'lfw' has no 'path'"),
    ({"stills": {"sources": {"lfw": {"path": "l", "repaet": 8}}}},
     "unknown key 'repaet' in stills source 'lfw' \\(did you mean 'repeat'\\?\\)"),
    ({"heads": {"epoch": 6}}, "unknown key 'epoch' in heads \\(did you mean 'epochs'\\?\\)"),
    ({"stills": {"sources": {"lfw": {"path": "l"}}, "balance": "oversample"}},
     "c.yaml: stills balance 'oversample': 'reweight' .* or 'resample'"),
    ({"stills": {"sources": {"lfw": {"path": "l"}}, "clahe": "yes"}},
     "c.yaml: stills clahe 'yes': CLAHE's clip limit, a positive number"),
    ({"stills": {"sources": {"lfw": {"path": "l"}}, "clahe": 2.0,
                 "distill": {"teachers": [{"preset": "default"}]}}},
     "c.yaml: stills clahe with distill: the teachers would read equalised faces"),
    ({"stills": {"sources": {"lfw": {"path": "l"}}, "clahe": 2.0}},
     "c.yaml: stills clahe is an ablation option"),
    ({"variants": {"a": None}}, "unknown key 'variants' in the config"),
])
def test_a_config_key_that_nothing_reads_is_an_error(tmp_path, changes, message):
    """A misspelt option would otherwise be ignored and the run train on the defaults."""
    config = {"preset": "default", "out": "r", "stills": {"data": "f"}, "heads": {}, **changes}
    path = tmp_path / "c.yaml"
    path.write_text(json.dumps(config))
    with pytest.raises(EmotionEncoderError, match=message):
        read_config(path)


def test_a_finetune_key_that_nothing_reads_is_an_error_naming_the_file(tmp_path):
    path = tmp_path / "ft.yaml"
    path.write_text(json.dumps({"preset": "default", "out": "r",
                                "finetune": {"data": "d", "epcohs": 3}}))
    with pytest.raises(EmotionEncoderError, match="ft.yaml: unknown key 'epcohs' in finetune "
                                                  "\\(did you mean 'epochs'\\?\\)"):
        read_config(path)


def test_every_shipped_config_has_only_known_keys():
    from pathlib import Path

    from emotion_encoder.training.ablation import merged
    from emotion_encoder.training.config_keys import check_stills
    from emotion_encoder.training.recipe import read_yaml

    checked = 0
    for path in sorted((Path(__file__).resolve().parents[1] / "configs").glob("*.yaml")):
        config = read_yaml(path)
        if "variants" in config:  # an ablation: each variant's stills section
            for name, changes in config["variants"].items():
                check_stills(merged(config["stills"], changes or {}), f"{path} {name}")
                checked += 1
        elif "stills" in config or "finetune" in config:
            read_config(path)
            checked += 1
    assert checked >= 30


@pytest.mark.slow
@pytest.mark.training
def test_train_command_produces_a_loadable_model(tmp_path):
    rng = np.random.default_rng(0)
    for split in ("train", "validation", "test"):
        for i, name in enumerate(FER_CLASSES):
            folder = tmp_path / "fer" / split / name
            folder.mkdir(parents=True)
            for j in range(3 if split == "train" else 1):
                pixels = rng.integers(0, 60, (48, 48)) + 25 * i  # class-dependent brightness
                Image.fromarray(pixels.astype(np.uint8)).save(folder / f"{j}.jpg")
    config = tmp_path / "tiny.yaml"
    config.write_text(json.dumps({
        "preset": "default", "out": str(tmp_path / "run"),
        "stills": {"data": str(tmp_path / "fer"), "epochs": 1, "batch_size": 8,
                   "mixup": 0.2, "erasing": 0.5},
        "heads": {"epochs": 1, "variants": 1}, "zoom": {"candidates": [1.0, 1.2]}}))
    proc = subprocess.run([sys.executable, "-m", "emotion_encoder", "train", str(config)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    run = tmp_path / "run"
    assert json.loads((run / "result.json").read_text())["test"] == result["test"]
    assert result["test"] * 7 == pytest.approx(round(result["test"] * 7))  # 7 test faces
    for name in ("config.yaml", "git_commit.txt", "model.keras", "default.weights.h5",
                 "stills/log.csv", "stills/best.weights.h5", "heads/head.weights.h5",
                 "zoom/zoom-1/metrics.json", "zoom/zoom-1.2/metrics.json"):
        assert (run / name).exists(), name
    scores = result["zoom"]["accuracies"]
    assert set(scores) == {"1", "1.2"} and result["zoom"]["zoom"] == float(
        max(scores, key=scores.get))
    assert json.loads((run / "zoom/zoom-1.2/metrics.json").read_text())["n"] == 7  # validation

    from emotion_encoder import EmotionEncoder

    encoder = EmotionEncoder(run / "model.keras")
    assert encoder.weights_trained and encoder.preset == "model.keras"
    assert encoder.preprocessor.zoom == result["zoom"]["zoom"]  # saved with the model

    longer = json.loads(config.read_text())
    longer["stills"]["epochs"] = 3  # the saved optimizer's schedule is for 1 epoch
    config.write_text(json.dumps(longer))
    proc = subprocess.run([sys.executable, "-m", "emotion_encoder", "train", str(config)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode != 0 and "was started with 1 epochs" in proc.stderr
    assert "Traceback" not in proc.stderr
    frames = np.full((20, 96, 96, 3), 128, np.uint8)
    result = encoder.predict(frames, fps=10)
    assert result.clips and all(c.label is None for c in result.clips)  # grey frames: no face


def test_exported_weights_are_float16_and_load_into_float32(tmp_path):
    import h5py

    from emotion_encoder.models import EmotionClassifier, ResNet3DBackbone
    from emotion_encoder.training.export import export_weights

    def tiny():
        backbone = ResNet3DBackbone(stackwise_num_blocks=(1, 1, 1, 1),
                                    stackwise_num_filters=(4, 8, 8, 16), stem_filters=4,
                                    num_frames=16, image_size=32, channels=1, stem_pool=False)
        return EmotionClassifier(backbone, convlstm_filters=8, transformer_dim=16,
                                 transformer_heads=2, transformer_mlp_dim=16, embedding_dim=24)

    model = tiny()
    model.save_weights(tmp_path / "full.weights.h5")
    path = export_weights(model, tmp_path / "out" / "compact.weights.h5")
    assert sorted(p.name for p in path.parent.iterdir()) == ["compact.weights.h5"]

    def arrays(file):
        with h5py.File(file) as f:
            found = []
            f.visititems(lambda _, item: found.append(item[()])
                         if isinstance(item, h5py.Dataset) else None)
        return found

    compact, full = arrays(path), arrays(tmp_path / "full.weights.h5")
    assert {a.dtype for a in compact} == {np.dtype("float16")}
    assert sum(a.nbytes for a in compact) * 2 == sum(a.nbytes for a in full)
    reloaded = tiny()
    reloaded.load_weights(path)
    assert all(w.dtype == "float32" for w in reloaded.weights)
    x = np.random.default_rng(0).normal(size=(4, 16, 32, 32, 1)).astype("float32")
    before, after = model.predict(x, verbose=0), reloaded.predict(x, verbose=0)
    np.testing.assert_allclose(after["probs"], before["probs"], atol=2e-3)
    assert not np.allclose(after["probs"], 1 / 7, atol=1e-3)  # real weights were loaded


def test_mouth_swap_replaces_only_the_lower_face_by_another_faces():
    import tensorflow as tf

    from emotion_encoder.training.stills import mouth_swap

    faces = tf.random.uniform((64, 48, 48, 1), seed=3)
    assert bool(tf.reduce_all(mouth_swap(faces, 0.0) == faces))
    swapped = mouth_swap(faces, 1.0).numpy()
    x, donors = faces.numpy(), faces.numpy()[::-1]
    assert np.array_equal(swapped[:, :28], x[:, :28])  # eyes and nose (above 60%) kept
    assert np.array_equal(swapped[:, :, :6], x[:, :, :6])  # cheeks beside the jaw kept
    assert np.allclose(swapped[:, 35:, 16:33], donors[:, 35:, 16:33])  # mouth and chin swapped
    many = tf.random.uniform((4000, 12, 12, 1))
    changed = np.any(mouth_swap(many, 0.3).numpy() != many.numpy(), axis=(1, 2, 3)).mean()
    assert abs(changed - 0.3) < 0.04
