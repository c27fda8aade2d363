"""Fine-tuning on user clips and `emotion-encoder evaluate`, on a tiny V2C-style set of real
video files with drawn faces (real ffmpeg decoding, real BlazeFace detection)."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from emotion_encoder.data.discover import open_dataset
from emotion_encoder.errors import DatasetError
from emotion_encoder.models.presets import PRESETS
from emotion_encoder.training.clip_pipeline import clip_dataset, jittered_indices
from emotion_encoder.face_cache import CropSettings, cache_faces
from synthetic import write_face_video

V2C_LABELS = ("angry", "disgusted", "fearful", "happy", "neutral", "sad", "surprised", "others")
CKPLUS = Path(__file__).resolve().parents[2] / "shared" / "data" / "ckplus"


@pytest.fixture(scope="module")
def v2c_set(tmp_path_factory, face_models):
    """16 short clips (2 per V2C label, 2 speakers), a broken file and a faceless clip, listed
    in ``train.csv``; ``clean.csv`` lists the 16 good clips only."""
    root = tmp_path_factory.mktemp("v2c")
    (root / "clips").mkdir()
    rows = []
    for label in V2C_LABELS:
        for speaker in (1, 2):
            name = f"clips/{label}_{speaker}.mp4"
            write_face_video(root / name, seconds=1.2, fps=10, size=(160, 120))
            rows.append((name, label, f"spk{speaker}"))
    write_face_video(root / "clips/empty.mp4", seconds=1.2, fps=10, size=(160, 120), face=False)
    (root / "clips/broken.mp4").write_text("not a video")
    for csv_name, extra in (("clean.csv", []), ("train.csv", [
            ("clips/empty.mp4", "happy", "spk1"), ("clips/broken.mp4", "sad", "spk2")])):
        with open(root / csv_name, "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["path", "label", "subject"])
            writer.writerows(rows + extra)
    return root


def run_cli(*args: str, timeout: int = 900) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "emotion_encoder", *args],
                          capture_output=True, text=True, timeout=timeout)


def train_finetune(config: Path, out: Path, finetune: dict) -> None:
    """Write a fine-tune config of the shipped ``default`` to ``config`` and train it with
    ``emotion-encoder train``; it must succeed."""
    config.write_text(json.dumps({"preset": "default", "init": "default", "out": str(out),
                                  "finetune": finetune}))
    proc = run_cli("train", str(config))
    assert proc.returncode == 0, proc.stderr[-3000:]


def test_open_dataset_recognises_layouts(v2c_set, tmp_path):
    manifest, cropped = open_dataset(v2c_set / "train.csv")
    assert not cropped and len(manifest) == 18 and "others" in manifest.labels
    for label in V2C_LABELS[:4]:
        (tmp_path / "fer" / "test" / label).mkdir(parents=True)
    for split in ("train", "validation"):
        (tmp_path / "fer" / split).mkdir()
    from PIL import Image

    Image.new("L", (48, 48), 90).save(tmp_path / "fer/test/happy/0.png")
    fer, cropped = open_dataset(tmp_path / "fer")
    assert cropped and fer.labels == ("happiness",) and len(fer) == 1
    with pytest.raises(DatasetError, match="nowhere: dataset not found"):
        open_dataset(tmp_path / "nowhere")
    with pytest.raises(DatasetError, match="split='dev': expected one of train, validation"):
        open_dataset(v2c_set / "train.csv", split="dev")


def test_face_cache_crops_skips_and_reuses(v2c_set, tmp_path):
    dataset, _ = open_dataset(v2c_set / "train.csv")
    faces = cache_faces(dataset, tmp_path / "cache", CropSettings(sample_fps=10))
    assert len(faces) == 16 and len(faces.samples) == 16
    assert all(s.shape == (12, 48, 48, 1) and s.dtype == np.uint8 for s in faces.sequences)
    assert all(s.std() > 10 for s in faces.sequences)  # real face crops, not blank frames
    reasons = dict(faces.skipped)
    assert reasons[str(v2c_set / "clips/empty.mp4")] == "too little face"
    assert "broken.mp4" in reasons[str(v2c_set / "clips/broken.mp4")]
    assert len(list((tmp_path / "cache").glob("*.npy"))) == 16
    assert len(list((tmp_path / "cache").glob("*.skip"))) == 2
    stamps = {p: p.stat().st_mtime_ns for p in (tmp_path / "cache").iterdir()}
    again = cache_faces(dataset, tmp_path / "cache", CropSettings(sample_fps=10))
    assert {p: p.stat().st_mtime_ns for p in (tmp_path / "cache").iterdir()} == stamps
    assert again.skipped == faces.skipped
    assert all(np.array_equal(a, b) for a, b in zip(again.sequences, faces.sequences))
    assert [dataset.labels[i] for i in again.labels] == [s.label for s in again.samples]


def test_face_cache_reads_only_a_span(v2c_set, tmp_path):
    spans = tmp_path / "spans.csv"
    spans.write_text("path,label,subject,start,end\n"
                     f"{v2c_set / 'clips/happy_1.mp4'},happy,spk1,0.3,0.8\n"
                     f"{v2c_set / 'clips/happy_1.mp4'},happy,spk1,,\n")
    dataset, _ = open_dataset(spans)
    faces = cache_faces(dataset, tmp_path / "cache", CropSettings(sample_fps=10))
    part, whole = faces.sequences
    assert part.shape == (5, 48, 48, 1) and whole.shape == (12, 48, 48, 1)  # 0.3-0.8 s


def test_clip_pipeline_jitters_training_clips_only():
    rng = np.random.default_rng(0)
    for n in (1, 5, 16, 100):
        idx = jittered_indices(n, 16, rng)
        assert len(idx) == 16 and idx.min() >= 0 and idx.max() < n
        assert np.all(np.diff(idx) >= 0)
    spans = [np.ptp(jittered_indices(100, 16, rng)) for _ in range(50)]
    assert min(spans) < 70 and max(spans) > 90  # 50-100% of the sequence

    from emotion_encoder.data.dataset import Sample
    from emotion_encoder.face_cache import FaceSequences

    seqs = [np.linspace(0, 255, 30 * 48 * 48).reshape(30, 48, 48, 1).astype(np.uint8),
            np.full((3, 48, 48, 1), 77, np.uint8)]
    samples = [Sample(label="fear", dataset="t", frames=(Path("a.png"),))] * 2
    faces = FaceSequences(seqs, np.array([1, 0]), ("anger", "fear"), samples)
    x, y = next(iter(clip_dataset(faces, 16, 2, training=False)))
    assert x.shape == (2, 16, 48, 48, 1) and y.numpy().tolist() == [[0, 1], [1, 0]]
    frame_means = x.numpy().mean(axis=(2, 3, 4))
    assert np.allclose(frame_means, 0, atol=1e-4)  # per-frame standardised
    train = clip_dataset(faces, 16, 2, training=True, channels=3)
    first, second = (next(iter(train))[0].numpy() for _ in range(2))
    assert first.shape == (2, 16, 48, 48, 3) and not np.allclose(first, second)


def test_init_model_keeps_known_label_rows():
    from emotion_encoder.models.loading import load_encoder_model
    from emotion_encoder.training.finetune import init_model

    labels = ("anger", "happiness", "others")
    source = load_encoder_model("default").model
    model = init_model("default", "default", labels)
    assert model.labels == labels and model.output["probs"].shape[-1] == 3
    old_kernel, old_bias = source.get_layer("probs").get_weights()
    kernel, bias = model.get_layer("probs").get_weights()
    for i, label in enumerate(labels[:2]):
        j = source.labels.index(label)
        assert np.array_equal(kernel[:, i], old_kernel[:, j]) and bias[i] == old_bias[j]
    for name in ("backbone", "convlstm", "fusion"):
        for a, b in zip(model.get_layer(name).get_weights(), source.get_layer(name).get_weights()):
            assert np.array_equal(a, b)
    assert model.preprocessor.get_config() == source.preprocessor.get_config()
    assert init_model("default", "default", labels, zoom=1.0).preprocessor.zoom == 1.0


@pytest.mark.slow
@pytest.mark.training
def test_finetune_v2c_labels_end_to_end_then_evaluate(v2c_set, tmp_path):
    run = tmp_path / "run"
    config = tmp_path / "ft.yaml"
    train_finetune(config, run, {"data": str(v2c_set / "train.csv"), "epochs": 2,
                                 "batch_size": 4, "learning_rate": 1e-3,
                                 "validation_fraction": 0.5})
    result = json.loads((run / "result.json").read_text())
    assert result["labels"] == ["anger", "disgust", "fear", "happiness", "sadness", "surprise",
                                "neutral", "others"]
    assert result["train_clips"] == 8 and result["validation_clips"] == 8  # split by speaker
    # accuracy over the 8 validation clips: a whole number of them right
    right = result["validation_accuracy"] * 8
    assert right == pytest.approx(round(right))
    assert len(result["skipped"]) == 2
    log_rows = (run / "train" / "log.csv").read_text().strip().splitlines()
    assert len(log_rows) == 3  # header + 2 epochs
    for name in ("config.yaml", "git_commit.txt", "model.keras", "train/final.weights.h5"):
        assert (run / name).exists(), name

    again = run_cli("train", str(config))  # finished: nothing is trained again
    assert again.returncode == 0, again.stderr[-3000:]
    assert (run / "train" / "log.csv").read_text().strip().splitlines() == log_rows

    from emotion_encoder import EmotionEncoder

    encoder = EmotionEncoder(run / "model.keras")
    assert encoder.labels[-1] == "others" and len(encoder.labels) == 8
    assert encoder.preprocessor.zoom == EmotionEncoder("default").preprocessor.zoom  # init's
    prediction = encoder.predict(v2c_set / "clips/happy_1.mp4")
    assert set(prediction.video_probs) == set(encoder.labels) == set(prediction.labels)
    assert prediction.video_label == max(prediction.video_probs, key=prediction.video_probs.get)
    assert sum(prediction.video_probs.values()) == pytest.approx(1.0, abs=1e-4)

    proc = run_cli("evaluate", str(run / "model.keras"), str(v2c_set / "clean.csv"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = run / "eval" / "clean"
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["n"] == 16 and metrics["options"]["data"] == str(v2c_set / "clean.csv")
    assert len(metrics["git_commit"]) >= 7
    confusion = np.array(metrics["confusion"])
    assert confusion.shape == (8, 8) and confusion.sum() == 16
    assert confusion.sum(axis=1).tolist() == [2] * 8
    assert metrics["accuracy"] == pytest.approx(np.trace(confusion) / 16)
    assert f"accuracy {metrics['accuracy']:.2%} on 16 samples" in proc.stdout
    with open(out / "confusion.csv") as handle:
        table = list(csv.reader(handle))
    assert table[0][1:] == list(encoder.labels) and len(table) == 9
    assert [int(v) for v in table[8][1:]] == confusion[7].tolist()
    assert (out / "confusion.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with open(out / "predictions.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 16
    for row in rows:  # each sample's probabilities, their argmax the prediction
        probs = [float(row[f"p_{label}"]) for label in encoder.labels]
        assert sum(probs) == pytest.approx(1.0, abs=1e-3)
        assert encoder.labels[int(np.argmax(probs))] == row["predicted"]


def test_finetune_kfold_reports_every_fold(v2c_set, tmp_path):
    config = tmp_path / "kfold.yaml"
    train_finetune(config, tmp_path / "cv", {"data": str(v2c_set / "clean.csv"), "kfold": 2,
                                             "epochs": 1, "batch_size": 8,
                                             "labels": {"others": "drop"}})
    result = json.loads((tmp_path / "cv" / "result.json").read_text())
    assert result["kfold"] == 2 and len(result["fold_accuracies"]) == 2
    assert result["samples"] == 14 and "others" not in result["labels"]
    assert result["mean_accuracy"] == pytest.approx(np.mean(result["fold_accuracies"]))
    assert len(result["fold_accuracies_mirror"]) == 2
    for a in result["fold_accuracies"] + result["fold_accuracies_mirror"]:  # 7 clips per fold
        assert a * 7 == pytest.approx(round(a * 7))


def test_finetune_kfold_seed_ensemble_scores_mean_probabilities(v2c_set, tmp_path):
    run = tmp_path / "seeds"
    train_finetune(tmp_path / "seeds.yaml", run, {
        "data": str(v2c_set / "clean.csv"), "kfold": 2, "seeds": 2, "epochs": 1,
        "batch_size": 8, "learning_rate": 3e-3, "labels": {"others": "drop"}})
    result = json.loads((run / "result.json").read_text())
    assert result["seeds"] == result["seeds_done"] == 2 and result["kfold"] == 2
    assert len(result["member_mean_accuracies"]) == 2
    for fold in range(2):
        members = [np.load(run / name / "test_probs.npz")
                   for name in (f"fold{fold:02d}", f"fold{fold:02d}-seed1")]
        labels = members[0]["labels"]
        assert len(labels) == 7 and np.array_equal(labels, members[1]["labels"])
        probs = [m["probs"] for m in members]  # (as is, mirror-averaged) x clips x labels
        assert probs[0].shape == (2, 7, 7)
        assert np.allclose(probs[0].sum(-1), 1, atol=1e-4)
        assert not np.allclose(probs[0], probs[1], atol=1e-4)  # another seed, another net
        for view, key in ((0, "fold_accuracies"), (1, "fold_accuracies_mirror")):
            mean = (probs[0][view] + probs[1][view]) / 2
            assert result[key][fold] == pytest.approx(np.mean(mean.argmax(-1) == labels))
    assert result["mean_accuracy"] == pytest.approx(np.mean(result["fold_accuracies"]))


def test_finetune_seeds_need_kfold_and_a_count():
    from emotion_encoder.errors import EmotionEncoderError
    from emotion_encoder.training.finetune import finetune_settings

    assert finetune_settings({"data": "x", "kfold": 10, "seeds": 3})["seeds"] == 3
    with pytest.raises(EmotionEncoderError, match="c.yaml: finetune seeds > 1 needs kfold"):
        finetune_settings({"data": "x", "seeds": 2}, "c.yaml")
    for bad in (0, 2.5, "3", True):
        with pytest.raises(EmotionEncoderError, match="seeds must be a whole number >= 1"):
            finetune_settings({"data": "x", "kfold": 5, "seeds": bad})


@pytest.mark.slow
@pytest.mark.training
def test_finetune_head_epochs_freeze_the_backbone_first(v2c_set, tmp_path):
    import keras

    from emotion_encoder.training.finetune import _probs_model, init_model

    run = tmp_path / "lpft"
    config = tmp_path / "lpft.yaml"
    train_finetune(config, run, {"data": str(v2c_set / "clean.csv"), "epochs": 1,
                                 "head_epochs": 1, "batch_size": 4, "learning_rate": 1e-3,
                                 "train_backbone": True, "labels": {"others": "drop"},
                                 "validation_fraction": 0.5})
    assert len((run / "train" / "heads" / "log.csv").read_text().strip().splitlines()) == 2
    assert len((run / "train" / "log.csv").read_text().strip().splitlines()) == 2

    labels = tuple(json.loads((run / "result.json").read_text())["labels"])
    start, heads, final = (init_model("default", "default", labels) for _ in range(3))
    _probs_model(heads).load_weights(run / "train" / "heads" / "final.weights.h5")
    _probs_model(final).load_weights(run / "train" / "final.weights.h5")

    def weights(model, name):
        return [keras.ops.convert_to_numpy(w) for w in model.get_layer(name).weights]

    # the first epoch moved the heads and the classifier only; the second the backbone too
    assert all(np.array_equal(a, b) for a, b in zip(weights(start, "backbone"),
                                                    weights(heads, "backbone")))
    assert not all(np.array_equal(a, b) for a, b in zip(weights(start, "probs"),
                                                        weights(heads, "probs")))
    assert not all(np.array_equal(a, b) for a, b in zip(weights(heads, "backbone"),
                                                        weights(final, "backbone")))


def test_evaluate_errors_are_one_line(v2c_set, tmp_path):
    proc = run_cli("evaluate", "default", str(tmp_path / "missing.csv"))
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"emotion-encoder: error: {tmp_path / 'missing.csv'}: " \
                                  "dataset not found"
    only_others = tmp_path / "others.csv"
    only_others.write_text("path,label,subject\n"
                           f"{v2c_set / 'clips/others_1.mp4'},others,spk1\n")
    proc = run_cli("evaluate", "default", str(only_others))
    assert proc.returncode == 2 and "no sample has a label the model knows" in proc.stderr


@pytest.mark.slow
@pytest.mark.training
@pytest.mark.skipif(not CKPLUS.is_dir(), reason="needs ../shared/data/ckplus")
def test_evaluate_shipped_model_on_ckplus(tmp_path):
    from emotion_encoder.evaluation import evaluate

    report = evaluate("default", CKPLUS, tmp_path / "eval", cache=tmp_path / "faces")
    assert report.n == 309 and len(report.skipped) == 18  # contempt is not a model label
    assert all("contempt" in reason for _, reason in report.skipped)
    assert report.true_labels == ("anger", "disgust", "fear", "happiness", "sadness", "surprise")
    assert report.accuracy > 0.6 and report.recall["happiness"] > 0.9
    restricted = evaluate("default", CKPLUS, tmp_path / "eval6", restrict=True,
                          cache=tmp_path / "faces")
    assert restricted.confusion[:, -1].sum() == 0  # never "neutral" in the 6-class view
    assert restricted.accuracy >= report.accuracy
    # 3 peak frames make one window: sliding windows must agree with the fixed clip
    sliding = evaluate("default", CKPLUS, tmp_path / "eval-sliding", sampling="sliding",
                       cache=tmp_path / "faces")
    assert np.array_equal(sliding.confusion, report.confusion)
    unzoomed = evaluate("default", CKPLUS, tmp_path / "eval-zoom1", zoom=1.0,
                        cache=tmp_path / "faces")
    options = [json.loads((tmp_path / name / "metrics.json").read_text())["options"]
               for name in ("eval", "eval-zoom1")]
    assert [o["zoom"] for o in options] == [PRESETS["default"]["preprocessor"]["zoom"], 1.0]
    assert unzoomed.n == report.n and len(list((tmp_path / "faces").iterdir())) >= 2 * report.n


def test_sliding_sampling_averages_windows():
    from emotion_encoder.evaluation import sample_clips

    sequence = np.arange(40).reshape(40, 1, 1, 1)
    clips = sample_clips(sequence, 16, "sliding")
    assert [int(c[0, 0, 0, 0]) for c in clips] == [0, 8, 16, 24]
    assert int(clips[-1][-1, 0, 0, 0]) == 39
    (fixed,) = sample_clips(sequence, 16, "fixed")
    assert int(fixed[0, 0, 0, 0]) == 0 and int(fixed[-1, 0, 0, 0]) == 39
    with pytest.raises(ValueError, match="sampling must be"):
        sample_clips(sequence, 16, "random")


@pytest.mark.slow
def test_paper_protocol_config_trains_on_oulu_layout(tmp_path):
    """configs/paper-oulu.yaml as committed, pointed at a tiny Oulu-CASIA tree of drawn
    faces with 1 epoch: the `paper` preset (RGB 112) trains end to end per fold."""
    import cv2
    import yaml

    from synthetic import background, draw_face

    root = tmp_path / "oulu"
    for subject in ("P001", "P002"):
        for k, emotion in enumerate(("Happiness", "Surprise")):
            folder = root / "OriginalImg" / "VL" / "Strong" / subject / emotion
            folder.mkdir(parents=True)
            for i in range(3):
                image = background((320, 240))
                draw_face(image, (160 + 4 * i, 120), 120 + 10 * k)
                cv2.imwrite(str(folder / f"{i:03d}.jpeg"), image[..., ::-1])
    config = yaml.safe_load((Path(__file__).parents[1] / "configs/paper-oulu.yaml").read_text())
    assert config["preset"] == "paper" and config["finetune"]["batch_size"] == 4
    assert config["finetune"]["epochs"] == 100 and config["finetune"]["kfold"] == 10
    config["out"] = str(tmp_path / "run")
    config["finetune"].update(data=str(root), epochs=1, kfold=2)
    (tmp_path / "paper.yaml").write_text(yaml.safe_dump(config))
    proc = run_cli("train", str(tmp_path / "paper.yaml"), timeout=1800)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads((tmp_path / "run" / "result.json").read_text())
    assert result["labels"] == ["happiness", "surprise"] and result["skipped"] == []
    assert len(result["fold_accuracies"]) == 2
    faces = sorted((tmp_path / "run" / "faces").glob("*.npy"))
    assert len(faces) == 4 and np.load(faces[0]).shape == (3, 112, 112, 3)


def test_face_cache_does_not_remember_a_detector_failure(v2c_set, tmp_path):
    from emotion_encoder.errors import EmotionEncoderError

    dataset, _ = open_dataset(v2c_set / "clean.csv")
    with pytest.raises(EmotionEncoderError, match="unknown face detector 'nope'"):
        cache_faces(dataset, tmp_path / "cache", CropSettings(detector="nope"))
    assert not any((tmp_path / "cache").iterdir())  # nothing noted as skipped
