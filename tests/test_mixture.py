"""Several still-face sets: FER+ votes, identity-disjoint splits, face crops, the mixture stage."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from emotion_encoder.data.discover import open_dataset
from emotion_encoder.data.ferplus import load_ferplus, majority_labels, read_votes, soft_labels
from emotion_encoder.data.protocols import SUBJECT_PARTS, subject_part, subject_split
from synthetic import ASTRONAUT_FACE, astronaut

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
FER_CLASSES = ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise")
VOTE_HEADER = "path,neutral,happiness,surprise,sadness,anger,disgust,fear,contempt,unknown,NF,match"
# subject names whose identity-disjoint part is known (subject_part hashes the name)
TRAIN, VALIDATION, TEST = ("S000", "S003", "person0"), ("S006", "person11"), ("S001", "person7")


def tight_face(margin: float = 0.05, size: int = 96) -> np.ndarray:
    """The astronaut's face cropped inside its box: no context around it (RGB)."""
    x0, y0, x1, y1 = ASTRONAUT_FACE
    m = margin * (x1 - x0)
    crop = astronaut()[int(y0 + m):int(y1 - m), int(x0 + m):int(x1 - m)]
    return cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA)


def write_fer_tree(root: Path, votes: dict[str, list[int]] | None = None) -> None:
    """A tiny FER2013 tree (class-dependent brightness) and, with ``votes``, its votes.csv."""
    rng = np.random.default_rng(0)
    rows = []
    for split in ("train", "validation", "test"):
        for i, name in enumerate(FER_CLASSES):
            folder = root / "fer2013" / split / name
            folder.mkdir(parents=True)
            for j in range(3 if split == "train" else 1):
                pixels = rng.integers(0, 60, (48, 48)) + 25 * i
                Image.fromarray(pixels.astype(np.uint8)).save(folder / f"{j}.jpg")
                key = f"{split}/{name}/{j}.jpg"
                counts = (votes or {}).get(key)
                rows.append(f"{key}," + (",".join(map(str, counts)) if counts else ",,,,,,,,,")
                            + ",matched")
    if votes is not None:
        (root / "ferplus").mkdir()
        (root / "ferplus" / "votes.csv").write_text(VOTE_HEADER + "\n" + "\n".join(rows) + "\n")


def test_ferplus_votes_give_soft_labels_and_majorities(tmp_path):
    votes = {"train/angry/0.jpg": [2, 0, 0, 1, 7, 0, 0, 0, 0, 0],   # anger by majority
             "train/angry/1.jpg": [0, 0, 0, 0, 0, 0, 0, 0, 1, 9],   # not a face
             "test/happy/0.jpg": [1, 8, 1, 0, 0, 0, 0, 0, 0, 0],
             "test/sad/0.jpg": [5, 0, 0, 5, 0, 0, 0, 0, 0, 0],      # a tie
             "test/angry/0.jpg": [0, 0, 0, 0, 1, 0, 0, 9, 0, 0]}    # contempt
    write_fer_tree(tmp_path, votes)
    table = read_votes(tmp_path / "ferplus" / "votes.csv")
    assert set(table) == set(votes)  # rows without votes are left out
    soft = soft_labels(np.stack([table["train/angry/0.jpg"]]))[0]
    np.testing.assert_allclose(soft, [0.7, 0, 0, 0, 0.1, 0, 0.2])  # canonical order
    assert majority_labels(np.stack([table[k] for k in votes])) == [
        "anger", None, "happiness", None, "contempt"]
    test = load_ferplus(tmp_path / "ferplus" / "votes.csv", "test")
    assert test.counts() == {"happiness": 1, "contempt": 1}
    dataset, cropped = open_dataset(tmp_path / "ferplus" / "votes.csv", split="test",
                                    contempt="drop")
    assert cropped and [s.frames[0].name for s in dataset] == ["0.jpg"]
    assert dataset[0].frames[0].parent.name == "happy"


def test_subject_split_is_identity_disjoint_and_stable():
    names = [f"person{i}" for i in range(300)]
    parts = {name: subject_part(name) for name in names}
    assert set(parts.values()) == set(SUBJECT_PARTS)
    share = {p: sum(v == p for v in parts.values()) / len(names) for p in SUBJECT_PARTS}
    assert share["train"] == pytest.approx(0.7, abs=0.08)
    assert share["test"] == pytest.approx(0.2, abs=0.08)
    assert [subject_part(n) for n in TRAIN] == ["train"] * 3
    assert [subject_part(n) for n in VALIDATION + TEST] == ["validation"] * 2 + ["test"] * 2

    from emotion_encoder.data.dataset import Dataset, Sample

    samples = tuple(Sample(label="neutral", dataset="d", frames=(Path(f"{n}_{k}.png"),),
                           subject=n) for n in names[:40] for k in range(2))
    ds = Dataset("d", samples, ("neutral",))
    split = {p: subject_split(ds, p) for p in SUBJECT_PARTS}
    assert sum(len(s) for s in split.values()) == len(ds)
    subjects = {p: {s.subject for s in part} for p, part in split.items()}
    assert not subjects["train"] & subjects["test"]
    assert not subjects["validation"] & subjects["test"]
    reversed_ds = Dataset("d", samples[::-1], ("neutral",))
    assert {s.subject for s in subject_split(reversed_ds, "test")} == subjects["test"]
    with pytest.raises(ValueError, match="part='dev'"):
        subject_split(ds, "dev")


def test_a_tight_face_crop_is_found_by_padding(face_models):
    from emotion_encoder.faces import make_detector

    crop, empty = tight_face(0.1), tight_face(0.15)
    with make_detector(padded_retry=False) as plain:
        assert plain.detect(empty) == []  # the bare detector misses a face without context
        weak = plain.detect(crop)  # or finds a weak box on part of it
        assert len(weak) == 1 and weak[0].score < 0.6 and weak[0].area < 0.4 * 96 * 96
    with make_detector() as detector:
        for image in (crop, empty):
            faces = detector.detect(image)
            assert len(faces) == 1 and faces[0].padded
            x0, y0, x1, y1 = faces[0].box
            assert x0 < 0 and y0 < 0 and x1 > 96 and y1 > 90  # the face fills the crop
        assert detector.detect(astronaut())[0].padded is False  # context: no retry
        assert detector.detect(np.full((96, 96, 3), 128, np.uint8)) == []  # no face at all


def write_stills(root: Path, rows: list[tuple[str, str, np.ndarray]], suffix: str) -> Path:
    """A manifest ``path,label,subject`` of images written with ``suffix`` (e.g. .tiff)."""
    (root / "images").mkdir(parents=True, exist_ok=True)
    with open(root / "labels.csv", "w", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(["path", "label", "subject"])
        for i, (label, subject, rgb) in enumerate(rows):
            name = f"images/{subject}.{i}{suffix}"
            Image.fromarray(rgb).save(root / name)
            out.writerow([name, label, subject])
    return root / "labels.csv"


def test_evaluate_reads_tiff_stills_and_drops_unknown_labels(tmp_path, face_models):
    face = tight_face(size=128)
    csv_path = write_stills(tmp_path / "stills", [("happy", "person0", face),
                                                  ("sleepy", "person0", face),
                                                  ("neutral", "person7", face[:, ::-1].copy())],
                            ".tiff")
    command = [sys.executable, "-m", "emotion_encoder", "evaluate", "fast", str(csv_path),
               "-o", str(tmp_path / "report")]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "unknown labels 'sleepy' (1)" in proc.stderr and "unknown='drop'" in proc.stderr
    proc = subprocess.run(command + ["--unknown", "drop"], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    metrics = json.loads((tmp_path / "report" / "metrics.json").read_text())
    assert metrics["n"] == 2 and metrics["skipped"] == []  # tight crops are not skipped
    proc = subprocess.run(command + ["--unknown", "drop", "--split", "test", "-o",
                                     str(tmp_path / "held-out")],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = list(csv.DictReader(open(tmp_path / "held-out" / "predictions.csv")))
    assert len(rows) == 1 and "person7" in rows[0]["sample"]  # only the held-out person


def test_logit_adjusted_loss_shifts_by_the_prior():
    import keras

    from emotion_encoder.training.losses import LogitAdjustedLoss, mixture_prior

    p = np.array([[0.6, 0.3, 0.1]], np.float32)
    y = np.array([[0.0, 0.0, 1.0]], np.float32)
    prior = mixture_prior(np.array([[1, 0, 0]] * 8 + [[0, 1, 0]] + [[0, 0, 1]], np.float32))
    loss = LogitAdjustedLoss(prior, tau=1.0, label_smoothing=0.0)
    logits = np.log(p) + np.log(prior)
    expected = -(logits[0, 2] - np.log(np.exp(logits[0]).sum()))
    assert float(loss(y, p)) == pytest.approx(expected, rel=1e-5)
    plain = LogitAdjustedLoss(prior, tau=0.0, label_smoothing=0.0)
    assert float(plain(y, p)) == pytest.approx(-np.log(0.1), rel=1e-5)
    assert float(loss(y, p)) > float(plain(y, p))  # a rare class's target costs more
    again = LogitAdjustedLoss.from_config(loss.get_config())
    assert float(again(y, p)) == pytest.approx(float(loss(y, p)))
    smooth = LogitAdjustedLoss(prior, tau=0.0, label_smoothing=0.1)
    assert float(smooth(y, p)) == pytest.approx(float(keras.losses.categorical_crossentropy(
        y, np.log(p), from_logits=True, label_smoothing=0.1)[0]), rel=1e-5)  # Keras's smoothing


def test_class_weights_give_each_class_the_same_share_of_the_loss():
    from emotion_encoder.training.losses import LogitAdjustedLoss, mixture_prior

    y = np.eye(3, dtype=np.float32)[[0] * 8 + [1] + [2]]
    prior = mixture_prior(y)
    p = np.full((10, 3), 1 / 3, np.float32)  # every face costs log 3 unweighted
    weighted = LogitAdjustedLoss(prior, tau=0.0, label_smoothing=0.0, class_weighted=True)
    per_face = np.asarray(weighted.call(y, p))
    assert per_face[0] == pytest.approx(np.log(3) / (3 * 0.8), rel=1e-4)  # 8 of 10: light
    assert per_face[9] == pytest.approx(np.log(3) / (3 * 0.1), rel=1e-4)  # 1 of 10: heavy
    shares = [per_face[y.argmax(1) == k].sum() for k in range(3)]
    assert shares == pytest.approx([shares[0]] * 3, rel=1e-3)
    assert per_face.mean() == pytest.approx(np.log(3), rel=1e-4)  # 1 on average
    again = LogitAdjustedLoss.from_config(weighted.get_config())
    assert np.allclose(np.asarray(again.call(y, p)), per_face)


def test_resampled_batches_draw_every_class_equally_often():
    from emotion_encoder.training.stills import still_batches

    x = np.zeros((400, 48, 48, 1), np.uint8)
    targets = np.eye(2, dtype=np.float32)[[0] * 360 + [1] * 40]
    batches = list(still_batches(x, targets, 48, 1, 100, training=True, resample=True))
    drawn = np.concatenate([b.numpy().argmax(1) for _, b in batches])
    assert len(drawn) == 400                      # an epoch keeps its length
    assert 0.35 < drawn.mean() < 0.65             # 10% of the faces, half of the draws
    plain = np.concatenate([b.numpy().argmax(1) for _, b in
                            still_batches(x, targets, 48, 1, 100, training=True)])
    assert plain.mean() == pytest.approx(0.1)     # without: every face once


def test_averaged_weights_are_the_exponential_moving_average_of_the_steps():
    import keras

    from emotion_encoder.training.mixture import averaged_weights

    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.compile(optimizer=keras.optimizers.SGD(0.1, use_ema=True, ema_momentum=0.5),
                  loss="mse")
    seen = []

    class Record(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            seen.append(model.get_weights())

    x, y = np.random.default_rng(0).normal(size=(12, 3)), np.ones((12, 2))
    model.fit(x, y, batch_size=4, epochs=1, shuffle=False, verbose=0, callbacks=[Record()])
    average = seen[0]  # the first step's weights; each later one enters at 1 - momentum
    for step in seen[1:]:
        average = [0.5 * a + 0.5 * w for a, w in zip(average, step)]
    trained = seen[-1]
    model.set_weights(trained)  # fit ends by writing the average in; the trained ones back
    with averaged_weights(model):
        for w, a in zip(model.get_weights(), average, strict=True):
            np.testing.assert_allclose(w, a, rtol=1e-6)
    for w, t in zip(model.get_weights(), trained, strict=True):
        np.testing.assert_array_equal(w, t)


@pytest.mark.slow
@pytest.mark.training
def test_the_mixture_keeps_the_averaged_weights_and_saves_the_trained_ones_to_resume(tmp_path):
    import keras

    from emotion_encoder.errors import EmotionEncoderError
    from emotion_encoder.training.config_keys import check_stills
    from emotion_encoder.training.mixture import averaged_weights, initial_model, train_mixture

    write_fer_tree(tmp_path)
    stills = {"init": None, "epochs": 2, "batch_size": 8, "keep": "final", "ema": 0.5,
              "sources": {"fer2013": {"path": str(tmp_path / "fer2013")}}}
    check_stills(stills, "c.yaml")
    with pytest.raises(EmotionEncoderError, match="stills ema 1.5: the moving average's"):
        check_stills({**stills, "ema": 1.5}, "c.yaml")
    out = tmp_path / "stills"
    state = train_mixture(stills, out, "fast")
    assert [h["epoch"] for h in state["history"]] == [1, 2]
    last = keras.saving.load_model(out / "last.keras")  # to resume: the trained weights
    assert last.optimizer.use_ema and last.optimizer.iterations.numpy() == 2 * 3  # 21 faces
    kept = initial_model("fast", str(out / "best.weights.h5"))
    final = initial_model("fast", str(out / "final.weights.h5"))
    trainable = {v.path for v in last.trainable_variables}
    moved = 0
    for v, k, f in zip(last.weights, kept.weights, final.weights, strict=True):
        np.testing.assert_array_equal(k.numpy(), f.numpy())  # keep: final
        if v.path in trainable and not np.array_equal(v.numpy(), f.numpy()):
            moved += 1
    assert moved == len(trainable)  # every trained weight differs from its average
    with averaged_weights(last):
        for v, f in zip(last.weights, final.weights, strict=True):
            np.testing.assert_allclose(v.numpy(), f.numpy(), rtol=1e-5, atol=1e-7)
    without = {k: v for k, v in stills.items() if k != "ema"}  # resumed without it: refused
    with pytest.raises(EmotionEncoderError, match="started with a moving average"):
        train_mixture(without, out, "fast")


def test_deflating_an_inflated_backbone_gives_back_the_still_network():
    import keras

    from emotion_encoder.models import ResNet3DBackbone
    from emotion_encoder.training.inflate import deflate_into, inflate_into

    config = dict(stackwise_num_blocks=(1, 1, 1, 1), stackwise_num_filters=(4, 8, 8, 16),
                  stem_filters=4, num_frames=4, image_size=32, channels=1, stem_pool=False,
                  temporal_kernel=[1, 1, 3, 1])
    still = ResNet3DBackbone(**config, dims=2)
    video = ResNet3DBackbone(**config)
    inflate_into(video, still)
    fresh = ResNet3DBackbone(**config, dims=2)
    assert deflate_into(fresh, video) == inflate_into(video, still)
    x = np.random.default_rng(0).normal(size=(2, 32, 32, 1)).astype("float32")
    np.testing.assert_allclose(fresh.predict(x, verbose=0), still.predict(x, verbose=0),
                               atol=1e-6)
    assert isinstance(fresh, keras.Model)


def write_three_sources(tmp_path: Path) -> dict:
    """Tiny FER2013 + FER+ votes, cut-down CK+ and a still manifest; the sources config."""
    votes = {f"train/{name}/{j}.jpg": [0, 0, 0, 0, 0, 0, 0, 0, 0, 0] for name in FER_CLASSES
             for j in range(3)}
    for j in range(3):
        votes[f"train/angry/{j}.jpg"] = [4, 0, 0, 0, 6, 0, 0, 0, 0, 0]
    votes["train/sad/2.jpg"] = [0, 0, 0, 0, 0, 0, 0, 0, 1, 9]  # not a face: left out
    write_fer_tree(tmp_path, votes)
    ck = tmp_path / "ckplus"
    lines = ["sequence,subject,label,peak_frames,first_frame,last_frame"]
    for subject in TRAIN[:2] + VALIDATION[:1] + TEST[:1]:
        for label in ("happiness", "surprise"):
            names = []
            for k in range(2):
                name = f"peak_frames_48/{label}/{subject}_{label}_{k}.png"
                (ck / name).parent.mkdir(parents=True, exist_ok=True)
                shade = 80 if label == "happiness" else 170
                Image.fromarray(np.full((48, 48), shade + k, np.uint8)).save(ck / name)
                names.append(name)
            lines.append(f"{subject}_{label},{subject},{label},{';'.join(names)},,")
    (ck / "sequences.csv").parent.mkdir(parents=True, exist_ok=True)
    (ck / "sequences.csv").write_text("\n".join(lines) + "\n")
    face = tight_face(size=128)
    stills = write_stills(tmp_path / "lfw", [
        ("happiness", "person0", face), ("neutral", "person0", face[:, ::-1].copy()),
        ("happiness", "person11", face), ("neutral", "person7", face),
        ("sadness", "person0", np.full((128, 128, 3), 90, np.uint8))], ".jpg")  # no face
    return {"fer2013": {"path": str(tmp_path / "fer2013"),
                        "ferplus": str(tmp_path / "ferplus" / "votes.csv")},
            "ckplus": {"path": str(ck), "repeat": 2},
            "lfw": {"kind": "manifest", "path": str(stills)}}


def test_a_mixture_folder_is_reused_only_for_the_sources_it_was_cut_from(tmp_path):
    """Its faces have each source's repeat and size baked in: a changed config must not
    train on them silently."""
    from emotion_encoder.errors import EmotionEncoderError
    from emotion_encoder.training.mixture import build_mixture

    sources = {"fer2013": {"path": "f"}, "lfw": {"kind": "manifest", "path": "l", "repeat": 2}}
    out = tmp_path / "stills"
    out.mkdir()
    (out / "faces.npz").write_bytes(b"")
    summary = {"sources": list(sources), "spec": sources, "size": 48, "counts": {}}
    (out / "sources.json").write_text(json.dumps(summary))
    assert build_mixture(sources, out, 48) == summary
    changed = {**sources, "lfw": {**sources["lfw"], "repeat": 8}}
    with pytest.raises(EmotionEncoderError, match=r"faces.npz: cut with source 'lfw' as "
                                                  r".*'repeat': 2}, not .*'repeat': 8}"):
        build_mixture(changed, out, 48)
    with pytest.raises(EmotionEncoderError, match="cut at 48 px, not 64"):
        build_mixture(sources, out, 64)
    with pytest.raises(EmotionEncoderError, match=r"from the sources \['fer2013', 'lfw'\], "
                                                  r"not \['fer2013'\]"):
        build_mixture({"fer2013": {"path": "f"}}, out, 48)
    (out / "sources.json").write_text(json.dumps({"sources": list(sources), "counts": {}}))
    assert build_mixture(changed, out, 48)["sources"] == list(sources)  # before the spec was kept


def test_ckplus_apexes_are_blended_with_their_registered_first_frames(tmp_path):
    """Only train subjects' sequences with a registered first frame are blended, the pixels
    and targets mixed at each level; a blend needs the first frames."""
    from emotion_encoder.errors import EmotionEncoderError
    from emotion_encoder.face_cache import CropSettings
    from emotion_encoder.training.mixture import _ckplus_blends, build_mixture

    onset = tmp_path / "onset"
    lines = ["sequence,subject,label,peak_frames,first_frame,last_frame"]
    for subject, label, registered in [(TRAIN[0], "anger", True), (TRAIN[1], "fear", False),
                                       (VALIDATION[0], "anger", True), (TEST[0], "fear", True)]:
        names = []
        for k, shade in enumerate((20, 100, 220)):  # first frame, then two peaks
            path = onset / f"{subject}_{k}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(np.full((48, 48), shade, np.uint8)).save(path)
            names.append(str(path))
        first = names[0] if registered else ""
        peaks = names if registered else names[1:]
        lines.append(f"{subject}_1,{subject},{label},{';'.join(peaks)},{first},{names[-1]}")
    (onset / "sequences.csv").write_text("\n".join(lines) + "\n")
    x, p = _ckplus_blends(onset, tmp_path / "crops", CropSettings(48, detect=False), [0.25, 0.5])
    assert x.shape == (2, 48, 48, 1) and x[:, 0, 0, 0].tolist() == [70, 120]  # 20 -> 220
    np.testing.assert_allclose(p, [[0.25, 0, 0, 0, 0, 0, 0.75], [0.5, 0, 0, 0, 0, 0, 0.5]])
    with pytest.raises(EmotionEncoderError, match="strictly between 0 and 1"):
        build_mixture({"ckplus": {"path": str(onset), "neutral_first_frames": True,
                                  "intensity_levels": [1.5]}}, tmp_path / "run", 48)
    with pytest.raises(EmotionEncoderError, match="needs a ckplus source with neutral_first"):
        build_mixture({"ckplus": {"path": str(onset), "intensity_levels": [0.5]}},
                      tmp_path / "run", 48)


def run_config(config: Path, settings: dict, *command: str) -> subprocess.CompletedProcess:
    """Write ``settings`` to ``config`` and run ``python -m COMMAND config``; it must succeed."""
    config.write_text(json.dumps(settings))
    proc = subprocess.run([sys.executable, "-m", *command, str(config)],
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def tiny_stills(sources: dict) -> dict:
    """One epoch from scratch on ``sources``, in batches of 8."""
    return {"init": None, "epochs": 1, "batch_size": 8, "sources": sources}


@pytest.mark.slow
@pytest.mark.training
def test_mixture_recipe_trains_on_three_sources(tmp_path, face_models):
    sources = write_three_sources(tmp_path)
    run_config(tmp_path / "mix.yaml", {"preset": "fast", "out": str(tmp_path / "run"),
                                       "stills": {**tiny_stills(sources), "epochs": 2,
                                                  "keep": "final", "snapshots": [1]},
                                       "heads": {"epochs": 1, "variants": 1}},
               "emotion_encoder", "train")
    run = tmp_path / "run"
    faces = np.load(run / "stills" / "faces.npz")
    names = json.loads((run / "stills" / "sources.json").read_text())["sources"]
    assert names == ["fer2013", "ckplus", "lfw"]
    by_source = np.bincount(faces["s_train"], minlength=3)
    assert by_source.tolist() == [20, 2 * 2 * 2 * 2, 2]  # 21 FER faces less one not-a-face;
    # CK+: 2 train subjects x 2 sequences x 2 frames, repeated twice; LFW: person0's 2 faces
    fer_targets = faces["p_train"][faces["s_train"] == 0]
    assert any(np.allclose(t, [0.6, 0, 0, 0, 0, 0, 0.4]) for t in fer_targets)  # FER+ soft
    assert np.allclose(faces["p_train"].sum(1), 1.0)
    assert np.bincount(faces["s_validation"], minlength=3).tolist() == [7, 4, 1]
    state = json.loads((run / "stills" / "state.json").read_text())
    assert set(state["history"][0]) >= {"fer2013", "ckplus", "lfw", "mean_balanced"}
    assert len(state["history"]) == 2 and abs(sum(state["prior"].values()) - 1) < 1e-3
    assert state["best_epoch"] in (1, 2) and state["kept"] == "final"
    assert state["kept_validation"] == state["history"][-1]["mean_balanced"]
    import keras

    from emotion_encoder.training.mixture import initial_model

    last = keras.saving.load_model(run / "stills" / "last.keras")
    for name in ("final.weights.h5", "best.weights.h5"):  # keep: final: the last epoch kept
        final = initial_model("fast", str(run / "stills" / name))
        for w, v in zip(last.get_weights(), final.get_weights(), strict=True):
            np.testing.assert_array_equal(w, v)  # the last epoch's weights, as a 2D init
    first = initial_model("fast", str(run / "stills" / "epoch1.weights.h5"))  # snapshots: [1]
    assert not (run / "stills" / "epoch2.weights.h5").exists()
    assert any(not np.array_equal(w, v) for w, v in zip(first.get_weights(),
                                                        last.get_weights(), strict=True))
    from emotion_encoder.errors import EmotionEncoderError
    from emotion_encoder.training.mixture import build_mixture

    assert build_mixture(sources, run / "stills", 48)["spec"] == sources  # reused as cut
    with pytest.raises(EmotionEncoderError, match="cut with source 'ckplus' as"):
        build_mixture({**sources, "ckplus": {**sources["ckplus"], "repeat": 4}},
                      run / "stills", 48)
    from emotion_encoder import EmotionEncoder

    encoder = EmotionEncoder(run / "model.keras")
    assert encoder.weights_trained and encoder.labels[0] == "anger"


@pytest.mark.slow
@pytest.mark.training
def test_ablation_trains_each_variant_and_scores_the_probes(tmp_path, face_models):
    from emotion_encoder.training.mixture import LABELS

    sources = write_three_sources(tmp_path)
    proc = run_config(tmp_path / "ablation.yaml", {
        "preset": "fast", "out": str(tmp_path / "ablation"), "stills": tiny_stills(sources),
        "variants": {"fer-only": {"sources": {"ckplus": None, "lfw": None}}, "all": None,
                     "all-64": {"image_size": 64},
                     "all-resampled": {"logit_adjust": 0.0, "balance": "resample"}},
        "probes": {"stills": {"path": sources["lfw"]["path"]},
                   "ck-test": {"path": sources["ckplus"]["path"], "split": "test"}}},
        "emotion_encoder.training.ablation")
    rows = [line for line in proc.stdout.splitlines() if line.startswith("| fer-only")
            or line.startswith("| all")]
    assert len(rows) == 8 and (tmp_path / "ablation" / "ablation.md").exists()  # 2 tables
    assert "| variant | stills: disgust / fear | ck-test: disgust / fear |" in proc.stdout
    only = json.loads((tmp_path / "ablation" / "fer-only" / "probes.json").read_text())
    assert list(only["stills"]["sources"]) == ["fer2013"]
    assert only["probes"]["stills"]["n"] == 5  # the no-face still counts, as a miss
    assert only["probes"]["ck-test"]["n"] == 2  # S001's two sequences
    both = json.loads((tmp_path / "ablation" / "all" / "probes.json").read_text())
    assert list(both["stills"]["sources"]) == ["fer2013", "ckplus", "lfw"]
    for probe in both["probes"].values():  # the per-class recalls make up the balanced score
        assert np.mean(list(probe["recall"].values())) == pytest.approx(probe["balanced"])
    resampled = json.loads((tmp_path / "ablation" / "all-resampled" / "probes.json").read_text())
    assert resampled["stills"]["balance"] == "resample" and resampled["probes"]["stills"]["n"] == 5
    faces = np.load(tmp_path / "ablation" / "fer-only" / "stills" / "faces.npz")
    assert set(faces["s_train"].tolist()) == {0}
    assert faces["x_train"].shape[1:] == (48, 48, 1)
    large = np.load(tmp_path / "ablation" / "all-64" / "stills" / "faces.npz")
    assert large["x_train"].shape[1:] == large["x_test"].shape[1:] == (64, 64, 1)
    assert len(large["x_train"]) == len(np.load(tmp_path / "ablation" / "all" / "stills"
                                                / "faces.npz")["x_train"])
    with open(tmp_path / "ablation" / "all" / "readings" / "stills" / "predictions.csv") as f:
        readings = list(csv.DictReader(f))  # the faces found: the no-face still is not one
    assert len(readings) == 4 and {r["true"] for r in readings} <= set(LABELS)
    wide = json.loads((tmp_path / "ablation" / "all-64" / "probes.json").read_text())
    assert wide["stills"]["image_size"] == 64 and wide["probes"]["stills"]["n"] == 5


def test_the_encoder_reads_a_tight_face_crop_and_says_so(face_models):
    from emotion_encoder import EmotionEncoder

    encoder = EmotionEncoder("fast")
    still = np.repeat(tight_face(0.1, 128)[None], 4, axis=0)  # a still, as 4 frames
    clips = encoder.predict(still, fps=10, sampling="fixed").clips
    assert len(clips) == 1 and clips[0].label is not None
    assert clips[0].face.padded and clips[0].to_dict()["face"]["padded"] is True
    assert clips[0].face.x0 < 0 and clips[0].face.x1 > 128  # the box reaches past the crop
    photo = encoder.predict(np.repeat(astronaut()[None], 4, axis=0), fps=10,
                            sampling="fixed").clips[0]
    assert photo.face.padded is False and photo.face.x0 > 100


needs_data = pytest.mark.skipif(not DATA.exists(), reason="../shared/data not here")


@needs_data
def test_the_real_face_sets_load_with_identity_disjoint_parts():
    jaffe, _ = open_dataset(DATA / "jaffe" / "labels.csv")  # TIFF stills
    assert len(jaffe) == 213 and jaffe[0].frames[0].suffix == ".tiff"
    yale, _ = open_dataset(DATA / "yale_expressions" / "labels.csv", unknown="drop")
    assert yale.counts() == {"happiness": 15, "sadness": 15, "surprise": 15, "neutral": 15}
    lfw = {part: open_dataset(DATA / "lfw_expressions" / "labels.csv", split=part,
                              contempt="drop")[0] for part in SUBJECT_PARTS}
    assert sum(len(d) for d in lfw.values()) == 13682 - 9  # every face once, contempt out
    people = {part: {s.subject for s in d if s.subject} for part, d in lfw.items()}
    assert not people["train"] & people["test"] and len(people["test"]) > 1000
    ferplus, cropped = open_dataset(DATA / "ferplus" / "votes.csv", split="test",
                                    contempt="drop")
    assert cropped and len(ferplus) == 3349 and ferplus.counts()["disgust"] == 22


@needs_data
def test_the_shipped_default_reads_both_labelled_mead_videos(face_models):
    from emotion_encoder import EmotionEncoder

    encoder = EmotionEncoder()
    for name, truth in (("mead_disgusted.mp4", "disgust"), ("mead_happy.mp4", "happiness")):
        result = encoder.predict(DATA / "videos" / name)
        assert result.video_label == truth, (name, result.video_probs)


@needs_data
@pytest.mark.parametrize("frame,face,at,colour", [((1920, 1080), 640, (700, 200), "0x405060"),
                                                  ((1280, 720), 300, (500, 150), "0x405060"),
                                                  ((1920, 1080), 100, (1100, 300), "0x405060"),
                                                  ((3840, 2160), 180, (2000, 700), "black")])
def test_the_mead_disgust_reads_the_same_in_a_full_frame(face_models, tmp_path, frame, face,
                                                         at, colour):
    """MEAD's and RAVDESS's own videos are full frames with the face a third of the height
    or less; the clip here is a 256 px face crop. Placed in such a frame, off-centre on a
    flat background, it must read as the crop does, with the face found and boxed there;
    also as a wide shot's 65 px face (read neutral while its box came from the whole frame
    alone: ``SmallFaceZoom``) and a 4K wide shot's 100 px face in the dark (found in no
    frame until the frame's tiles were searched: ``TiledSearch``)."""
    from moviepy.config import FFMPEG_BINARY

    from emotion_encoder import EmotionEncoder

    video = tmp_path / "full.mp4"
    pad = f"scale={face}:{face},pad={frame[0]}:{frame[1]}:{at[0]}:{at[1]}:color={colour}"
    subprocess.run([FFMPEG_BINARY, "-loglevel", "error", "-i",
                    str(DATA / "videos" / "mead_disgusted.mp4"), "-t", "4", "-vf", pad,
                    "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", str(video)],
                   check=True)
    result = EmotionEncoder().predict(video)
    assert result.video_label == "disgust", result.video_probs
    assert all(c.face_ratio > 0.9 and c.label == "disgust" for c in result.clips)
    centres = [((c.face.x0 + c.face.x1) / 2, (c.face.y0 + c.face.y1) / 2) for c in result.clips]
    for x, y in centres:  # the face's centre, not the frame's
        assert abs(x - (at[0] + face / 2)) < face / 4 and abs(y - (at[1] + face / 2)) < face / 4


@needs_data
def test_the_mead_clips_read_the_same_from_non_square_pixels(face_models, tmp_path):
    """Squeezed to 3/4 of their width with a 4:3 pixel aspect (as anamorphic DVD and HDV
    files store frames), the clips must be read as shown: read as stored, the thin faces
    read as fear and surprise."""
    from moviepy.config import FFMPEG_BINARY

    from emotion_encoder import EmotionEncoder

    encoder = EmotionEncoder()
    for name, truth in (("mead_disgusted.mp4", "disgust"), ("mead_happy.mp4", "happiness")):
        squeezed = tmp_path / name
        subprocess.run([FFMPEG_BINARY, "-loglevel", "error", "-i", str(DATA / "videos" / name),
                        "-vf", "scale=192:256,setsar=4/3", "-c:v", "libx264", "-pix_fmt",
                        "yuv420p", str(squeezed)], check=True)
        result = encoder.predict(squeezed)
        assert (result.width, result.height) == (256, 256)
        assert result.video_label == truth, (name, result.video_probs)


def test_the_mixture_starts_from_a_shipped_or_saved_network(tmp_path):
    from emotion_encoder.errors import EmotionEncoderError
    from emotion_encoder.models.loading import load_encoder_model
    from emotion_encoder.training.mixture import initial_model

    x = np.random.default_rng(0).normal(size=(2, 48, 48, 1)).astype("float32")
    shipped = load_encoder_model("fast").model
    shipped.save_weights(tmp_path / "fast.weights.h5")
    a, b = initial_model("fast", "fast"), initial_model("fast", str(tmp_path / "fast.weights.h5"))
    import keras

    def features(model):
        return keras.Model(model.input, model.get_layer("stage4_block3_out").output)(x)

    np.testing.assert_allclose(features(a), features(b), atol=1e-6)
    clip = np.repeat(x[:, None], 16, axis=1)
    np.testing.assert_allclose(np.asarray(features(a)), np.asarray(shipped.backbone(clip))[:, 0],
                               atol=1e-4)  # a static clip through 3D = the still through 2D
    larger = initial_model("fast", "fast", image_size=64)  # the same weights, 64 px input
    assert larger.input_shape == (None, 64, 64, 1)
    backbone = [(w, v) for w, v in zip(a.weights, larger.weights) if "probs" not in w.path]
    assert len(backbone) > 100
    for w, v in backbone:
        np.testing.assert_array_equal(np.asarray(w), np.asarray(v))
    with pytest.raises(EmotionEncoderError, match="nope.weights.h5: init weights file"):
        initial_model("fast", str(tmp_path / "nope.weights.h5"))
    # a stills stage's 2D weights (best/final.weights.h5) are taken whole, classifier included
    a.get_layer("probs").set_weights([w + 0.5 for w in a.get_layer("probs").get_weights()])
    a.save_weights(tmp_path / "final.weights.h5")
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        twin = initial_model("fast", str(tmp_path / "final.weights.h5"))
    assert not [w for w in caught if "container" in str(w.message)]  # no failed-try noise
    np.testing.assert_allclose(twin(x), a(x), atol=1e-6)
    assert not np.allclose(twin(x), b(x), atol=1e-3)
    with pytest.raises(EmotionEncoderError, match="final.weights.h5: neither the 'default' "):
        initial_model("default", str(tmp_path / "final.weights.h5"))


def test_the_stills_stage_checks_keep_and_snapshots_before_it_starts(tmp_path):
    from emotion_encoder.errors import EmotionEncoderError
    from emotion_encoder.training.mixture import train_mixture

    with pytest.raises(EmotionEncoderError, match="stills keep 'middle': 'best' .* or 'final'"):
        train_mixture({"keep": "middle", "sources": {}}, tmp_path / "stills", "fast")
    with pytest.raises(EmotionEncoderError, match=r"snapshots \[3\]: a list of epochs from 1 to 2"):
        train_mixture({"snapshots": [3], "epochs": 2, "sources": {}}, tmp_path / "stills", "fast")
    assert not (tmp_path / "stills").exists()


def test_a_recipe_refuses_stills_at_another_size_than_its_preset(tmp_path):
    from emotion_encoder.errors import EmotionEncoderError
    from emotion_encoder.training.recipe import run_recipe

    config = tmp_path / "c.yaml"
    config.write_text(json.dumps({"preset": "fast", "out": str(tmp_path / "run"),
                                  "stills": dict(tiny_stills({}), image_size=64),
                                  "heads": {"epochs": 1}}))
    with pytest.raises(EmotionEncoderError, match="image_size 64 differs from the 'fast' "
                                                  "preset's 48"):
        run_recipe(config)
    assert not (tmp_path / "run" / "stills").exists()


def test_distillation_targets_are_the_teachers_mirror_averaged_geometric_mean(tmp_path):
    from emotion_encoder.errors import EmotionEncoderError
    from emotion_encoder.training.distill import adjusted, teacher_probabilities
    from emotion_encoder.models.preprocessor import standardize
    from emotion_encoder.models.still_classifier import build_still_classifier

    faces = np.random.default_rng(1).integers(0, 256, (5, 48, 48, 1), dtype=np.uint8)
    faces[:, :, :24] //= 3  # a dark left half: the mirror image differs
    targets = np.eye(7, dtype=np.float32)[[0, 3, 3, 6, 4]]
    prior = np.full(7, 1 / 7)
    import keras

    paths = []
    for seed in (0, 1):
        keras.utils.set_random_seed(seed)
        model = build_still_classifier("fast", 7)
        paths.append(tmp_path / f"t{seed}.weights.h5")
        model.save_weights(paths[-1])
    teachers = [{"preset": "fast", "weights": str(p)} for p in paths]
    got = teacher_probabilities(teachers, faces, targets, prior, 1.0)
    logs = []
    for path in paths:
        model = build_still_classifier("fast", 7)
        model.load_weights(path)
        for view in (faces, faces[:, :, ::-1]):
            logs.append(np.log(model.predict(standardize(view), verbose=0)))
    expected = np.exp(np.mean(logs, axis=0))
    expected /= expected.sum(1, keepdims=True)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-6)
    assert not np.allclose(got, np.exp(logs[0]))  # the mirror and the second teacher count
    # a uniform prior shifts nothing; a skewed one moves the targets toward frequent classes
    np.testing.assert_allclose(adjusted(got, prior, 1.0), got, atol=1e-6)
    skewed = adjusted(got, np.array([0.1, 0.1, 0.1, 0.4, 0.1, 0.1, 0.1]), 1.0)
    assert np.all(skewed[:, 3] > got[:, 3])
    # a soup seed's .npz (float16) is the same teacher as its .weights.h5
    from emotion_encoder.training.soup import save_weights

    model = build_still_classifier("fast", 7)
    model.load_weights(paths[1])
    seed = save_weights(model.get_weights(), tmp_path / "seed-1-final.npz")
    as_seed = teacher_probabilities([{"preset": "fast", "weights": str(seed)}], faces, targets,
                                    prior, 1.0)
    as_stage = teacher_probabilities([teachers[1]], faces, targets, prior, 1.0)
    np.testing.assert_allclose(as_seed, as_stage, atol=2e-3)
    assert not np.allclose(as_seed, teacher_probabilities([teachers[0]], faces, targets, prior,
                                                          1.0), atol=2e-3)
    other = save_weights(model.get_weights()[:-2], tmp_path / "headless.npz")
    with pytest.raises(EmotionEncoderError, match="headless.npz: not a fast 2D network"):
        teacher_probabilities([{"preset": "fast", "weights": str(other)}], faces, targets,
                              prior, 1.0)
    with pytest.raises(EmotionEncoderError, match="nope.weights.h5: teacher weights not found"):
        teacher_probabilities([{"preset": "fast", "weights": str(tmp_path / "nope.weights.h5")}],
                              faces, targets, prior, 1.0)
    with pytest.raises(EmotionEncoderError, match="'preset' must be one of"):
        teacher_probabilities([{"preset": "huge", "init": "default"}], faces, targets, prior,
                              1.0)


@pytest.mark.slow
@pytest.mark.training
def test_the_mixture_trains_on_distillation_targets(tmp_path, face_models):
    sources = write_three_sources(tmp_path)
    stills = dict(tiny_stills(sources), distill={"weight": 0.5, "teachers": [
        {"preset": "fast", "init": "fast"}]})
    run_config(tmp_path / "mix.yaml", {"preset": "fast", "out": str(tmp_path / "run"),
                                       "stills": stills, "heads": {"epochs": 1, "variants": 1}},
               "emotion_encoder", "train")
    stage = tmp_path / "run" / "stills"
    faces, teacher = np.load(stage / "faces.npz"), np.load(stage / "teacher.npz")["probs"]
    assert teacher.shape == faces["p_train"].shape
    np.testing.assert_allclose(teacher.sum(1), 1.0, atol=1e-5)
    from emotion_encoder.errors import EmotionEncoderError
    from emotion_encoder.training.mixture import distilled_targets

    with pytest.raises(EmotionEncoderError, match="weight 0.0: must be in"):
        distilled_targets({"weight": 0.0}, faces, np.full(7, 1 / 7), 1.0, stage)
    short = {"p_train": faces["p_train"][:3], "x_train": faces["x_train"][:3]}
    with pytest.raises(EmotionEncoderError, match="teacher.npz: .* faces, the mixture has 3"):
        distilled_targets({"weight": 0.5}, short, np.full(7, 1 / 7), 1.0, stage)


def test_a_video_probe_reads_the_middle_frame_or_every_frame(tmp_path, face_models):
    from synthetic import write_face_video

    from emotion_encoder.errors import EmotionEncoderError
    from emotion_encoder.training.ablation import probe_scores
    from emotion_encoder.training.mixture import LABELS

    (tmp_path / "clips" / "happiness").mkdir(parents=True)
    write_face_video(tmp_path / "clips" / "happiness" / "a.mp4", seconds=2.0, fps=10)
    seen = []

    def still(x, training=False):  # the first face of a call sad, the others happy
        seen.append(len(x))
        probs = np.zeros((len(x), len(LABELS)), np.float32)
        probs[:, LABELS.index("happiness")] = 0.6
        probs[:, LABELS.index("sadness")] = 0.4
        probs[0] = 0.0
        probs[0, LABELS.index("sadness")] = 1.0
        return probs

    probes = {"middle": {"path": str(tmp_path / "clips")},
              "mean": {"path": str(tmp_path / "clips"), "frames": "mean"}}
    scores = probe_scores(still, "fast", probes, tmp_path / "crops", out=tmp_path / "readings")
    assert scores["middle"]["accuracy"] == 0.0 and scores["middle"]["n"] == 1  # one sad face
    for probe, predicted in (("middle", "sadness"), ("mean", "happiness")):
        with open(tmp_path / "readings" / probe / "predictions.csv", newline="") as handle:
            rows = list(csv.DictReader(handle))
        assert [(r["predicted"], r["true"]) for r in rows] == [(predicted, "happiness")]
        assert rows[0]["sample"].endswith("a.mp4") and len(rows[0]) == 3 + len(LABELS)
    assert scores["mean"]["accuracy"] == 1.0 and scores["mean"]["n"] == 1
    assert seen[0] == 2 and seen[-1] >= 30  # the middle crop and its mirror, then ~20 frames
    with pytest.raises(EmotionEncoderError, match="probe 'x': frames 'all'"):
        probe_scores(still, "fast", {"x": {"path": str(tmp_path / "clips"), "frames": "all"}},
                     tmp_path / "crops")
