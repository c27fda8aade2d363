"""The LiteRT backend (issue 16): the graph exported from the Keras model gives the same
outputs within 1e-4 (network alone, and whole predictions on real clips), and a command
on it never loads TensorFlow; its int8-weight twin stays within 0.05 and reads real faces
as Keras does."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from emotion_encoder.faces.model_files import cache_dir

pytest.importorskip("ai_edge_litert", reason="pip install ai-edge-litert")
REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "videos" / "mead_happy.mp4"
CKPLUS = Path(__file__).resolve().parents[2] / "shared" / "data" / "ckplus"


@pytest.fixture(scope="module")
def graphs() -> dict[str, Path]:
    """Both shipped presets exported into the cache (kept when already there)."""
    from emotion_encoder.models.litert_export import export_litert

    return {preset: export_litert(preset, cache_dir()) for preset in ("fast", "default")}


@pytest.fixture(scope="module")
def int8_graphs() -> dict[str, Path]:
    """Both shipped presets' int8-weight graphs in the cache."""
    from emotion_encoder.models.litert_export import export_litert

    return {preset: export_litert(preset, cache_dir(), quantized=True)
            for preset in ("fast", "default")}


@pytest.mark.parametrize("preset,mirror", [("fast", True), ("default", True),
                                           ("default", False)])
def test_the_graph_equals_keras_on_clips_of_any_count(graphs, preset, mirror):
    from emotion_encoder.clip_classifier import ClipClassifier
    from emotion_encoder.litert_classifier import LiteRTClassifier
    from emotion_encoder.models.loading import load_encoder_model

    loaded = load_encoder_model(preset)
    keras_side = ClipClassifier(loaded.model, loaded.preprocessor, mirror)
    lite = LiteRTClassifier(graphs[preset], preset, mirror=mirror)
    assert lite.labels == keras_side.labels and lite.window == keras_side.window
    assert lite.temperature == loaded.model.temperature
    rng = np.random.default_rng(16)
    for n in (1, 3, 11):  # under, at and over the graph's fixed batch of 8
        clips = [[rng.integers(0, 255, (64, 64, 3), np.uint8) for _ in range(16)]
                 for _ in range(n)]
        got, want = lite(clips), keras_side(clips)
        for key in ("probs", "embedding", "attention"):
            assert got[key].shape == want[key].shape
            np.testing.assert_allclose(got[key], want[key], atol=1e-4, err_msg=key)
    if mirror:  # a clip and its mirror image read the same with averaging, not without
        x = np.stack([lite.preprocessor(np.stack(clip)) for clip in clips])
        flipped = x[:, :, :, ::-1].copy()
        np.testing.assert_allclose(lite.forward(flipped)["probs"], lite.forward(x)["probs"],
                                   atol=1e-5)
        plain = LiteRTClassifier(graphs[preset], preset, mirror=False)
        assert np.abs(plain.forward(flipped)["probs"] - plain.forward(x)["probs"]).max() > 1e-3


@pytest.mark.skipif(not REAL.is_file(), reason="../shared/data/videos is absent")
def test_predictions_on_a_real_clip_are_the_same_on_both_backends(graphs):
    from emotion_encoder import EmotionEncoder

    lite, keras_side = EmotionEncoder(backend="litert"), EmotionEncoder(backend="keras")
    assert (lite.backend, keras_side.backend) == ("litert", "keras")
    a, b = lite.predict(REAL), keras_side.predict(REAL)
    assert a.video_label == b.video_label == "happiness"
    assert [c.label for c in a.clips] == [c.label for c in b.clips] and len(a.clips) >= 5
    np.testing.assert_allclose(a.track.probs, b.track.probs, atol=1e-4)
    np.testing.assert_allclose(a.track.embeddings, b.track.embeddings, atol=1e-4)
    np.testing.assert_allclose(a.track.attention, b.track.attention, atol=1e-4)


def test_predict_on_litert_loads_no_tensorflow(graphs, tmp_path):
    from emotion_encoder.examples import write_example_video

    video = write_example_video(tmp_path / "clip.mp4", seconds=2.0)
    probe = ("import sys; from emotion_encoder.cli import main; rc = main(sys.argv[1:]); "
             "print('tensorflow-loaded:', 'tensorflow' in sys.modules); sys.exit(rc)")
    proc = subprocess.run([sys.executable, "-c", probe, "predict", str(video), "--json",
                           "--backend", "litert"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().endswith("tensorflow-loaded: False")
    doc = json.loads(proc.stdout[:proc.stdout.rindex("tensorflow-loaded")])
    assert doc["video_label"] is not None and len(doc["clips"]) >= 1


def test_backend_choices_are_checked(graphs, int8_graphs, tmp_path, monkeypatch):
    import shutil

    from emotion_encoder import EmotionEncoder
    from emotion_encoder.errors import ModelFileError, OptionError

    with pytest.raises(OptionError,
                       match="backend must be one of auto, keras, litert, litert-int8"):
        EmotionEncoder("fast", backend="onnx")
    assert EmotionEncoder("fast").backend == "keras"  # the API's default
    auto = EmotionEncoder("fast", backend="auto")  # the commands' default: int8 first
    assert auto.backend == "litert-int8" and auto.classifier.path == int8_graphs["fast"]
    plain = EmotionEncoder("fast", mirror=False, backend="auto")
    assert plain.backend == "litert-int8" and not plain.classifier.mirror
    float_only = tmp_path / "float-only-cache" / "litert"  # an older cache: float graph only
    float_only.mkdir(parents=True)
    for path in (graphs["fast"], graphs["fast"].with_suffix(".json")):
        shutil.copy(path, float_only / path.name)
    monkeypatch.setenv("EMOTION_ENCODER_CACHE", str(float_only.parent))
    auto = EmotionEncoder("fast", backend="auto")
    assert auto.backend == "litert" and auto.classifier.path.name == graphs["fast"].name
    monkeypatch.setenv("EMOTION_ENCODER_CACHE", str(tmp_path / "empty-cache"))
    with pytest.raises(ModelFileError, match="fetch-models --litert"):
        EmotionEncoder("fast", backend="litert")
    with pytest.raises(ModelFileError, match="no exported int8 graph for 'fast'"):
        EmotionEncoder("fast", backend="litert-int8")
    assert EmotionEncoder("fast", backend="auto").backend == "keras"  # nothing exported


@pytest.mark.parametrize("preset", ["fast", "default"])
def test_the_int8_graph_is_a_quarter_of_the_size_and_close_to_keras(graphs, int8_graphs,
                                                                     preset):
    from emotion_encoder.litert_classifier import LiteRTClassifier

    path = int8_graphs[preset]
    assert path.name == graphs[preset].name.replace(".tflite", "-int8.tflite")
    meta = json.loads(path.with_suffix(".json").read_text())
    assert meta["quantized"] is True and 0 < meta["max_abs_diff_per_output"]["probs"] <= 0.05
    assert path.stat().st_size < 0.35 * graphs[preset].stat().st_size
    float_side = LiteRTClassifier(graphs[preset], preset)
    int8_side = LiteRTClassifier(path, preset)
    assert int8_side.quantized and not float_side.quantized
    rng = np.random.default_rng(8)
    clips = [[rng.integers(0, 255, (48, 48, 3), np.uint8)] * 16 for _ in range(9)]
    got, want = int8_side(clips), float_side(clips)
    assert got["probs"].shape == want["probs"].shape == (9, 7)
    difference = np.abs(got["probs"] - want["probs"]).max()
    assert 1e-4 < difference < 0.05  # quantized, so not equal; yet close


@pytest.mark.skipif(not REAL.is_file(), reason="../shared/data/videos is absent")
def test_the_int8_backend_reads_a_real_clip_as_keras_does(int8_graphs):
    from emotion_encoder import EmotionEncoder

    quantized, keras_side = EmotionEncoder(backend="litert-int8"), EmotionEncoder()
    assert quantized.backend == "litert-int8" and quantized.classifier.quantized
    a, b = quantized.predict(REAL), keras_side.predict(REAL)
    assert a.video_label == b.video_label == "happiness"
    assert [c.label for c in a.clips] == [c.label for c in b.clips]
    np.testing.assert_allclose(a.track.probs, b.track.probs, atol=0.05)


@pytest.mark.skipif(not CKPLUS.is_dir(), reason="needs ../shared/data/ckplus")
def test_evaluate_scores_the_exported_graphs_on_the_same_crops(graphs, int8_graphs, tmp_path):
    from emotion_encoder.evaluation import evaluate

    reports = {backend: evaluate("fast", CKPLUS, tmp_path / backend, split="test",
                                 cache=tmp_path / "faces", backend=backend, contempt="drop")
               for backend in ("keras", "litert", "litert-int8")}
    keras_side, lite, quantized = reports["keras"], reports["litert"], reports["litert-int8"]
    assert keras_side.n == lite.n == quantized.n == 73
    np.testing.assert_allclose(lite.probs, keras_side.probs, atol=1e-4)
    assert np.array_equal(lite.confusion, keras_side.confusion)
    agree = np.mean(quantized.probs.argmax(1) == keras_side.probs.argmax(1))
    assert agree >= 0.95 and abs(quantized.accuracy - keras_side.accuracy) <= 0.03
    assert 1e-4 < np.abs(quantized.probs - keras_side.probs).max() < 0.1
    options = json.loads((tmp_path / "litert-int8" / "metrics.json").read_text())["options"]
    assert options["backend"] == "litert-int8"
    with pytest.raises(ValueError, match="backend must be"):
        evaluate("fast", CKPLUS, tmp_path / "x", split="test", backend="onnx")


@pytest.mark.parametrize("quantized", [False, True])
def test_two_interpreters_give_one_interpreters_outputs(graphs, int8_graphs, quantized):
    """On two threads the graph runs on two interpreters side by side, a batch each; the
    outputs are those of one interpreter, and the encoder hands it enough clips."""
    from emotion_encoder import EmotionEncoder
    from emotion_encoder.litert_classifier import LiteRTClassifier

    path = (int8_graphs if quantized else graphs)["default"]
    two = LiteRTClassifier(path, "default", threads=2)
    one = LiteRTClassifier(path, "default", threads=1)
    assert (len(two.interpreters), len(one.interpreters)) == (2, 1)
    x = np.random.default_rng(3).normal(size=(21, 16, 48, 48, 1)).astype(np.float32)
    a, b = two.forward(x), one.forward(x)
    for name in ("probs", "embedding", "attention"):
        assert a[name].shape == b[name].shape and len(a[name]) == 21
        np.testing.assert_array_equal(a[name], b[name])
    assert two.clips_per_call == 8 and LiteRTClassifier(path, "default", threads=2,
                                                        mirror=False).clips_per_call == 16
    backend = "litert-int8" if quantized else "litert"
    if (os.cpu_count() or 1) >= 2:  # the encoder's classifier: two interpreters
        assert EmotionEncoder(backend=backend, mirror=False).batch_size == 16
    assert EmotionEncoder(backend=backend, batch_size=32).batch_size == 32
