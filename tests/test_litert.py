"""The LiteRT backend (issue 16): the graph exported from the Keras model gives the same
outputs within 1e-4 (network alone, and whole predictions on real clips), and a command
on it never loads TensorFlow."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from emotion_encoder.faces.model_files import cache_dir

pytest.importorskip("ai_edge_litert", reason="pip install ai-edge-litert")
REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "videos" / "mead_happy.mp4"


@pytest.fixture(scope="module")
def graphs() -> dict[str, Path]:
    """Both shipped presets exported into the cache (kept when already there)."""
    from emotion_encoder.models.litert_export import export_litert

    return {preset: export_litert(preset, cache_dir()) for preset in ("fast", "default")}


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


def test_backend_choices_are_checked(graphs, tmp_path, monkeypatch):
    from emotion_encoder import EmotionEncoder
    from emotion_encoder.errors import ModelFileError, OptionError

    with pytest.raises(OptionError, match="backend must be one of auto, keras, litert"):
        EmotionEncoder("fast", backend="onnx")
    assert EmotionEncoder("fast").backend == "keras"  # the API's default
    assert EmotionEncoder("fast", backend="auto").backend == "litert"
    plain = EmotionEncoder("fast", mirror=False, backend="auto")
    assert plain.backend == "litert" and not plain.classifier.mirror
    monkeypatch.setenv("EMOTION_ENCODER_CACHE", str(tmp_path / "empty-cache"))
    with pytest.raises(ModelFileError, match="fetch-models --litert"):
        EmotionEncoder("fast", backend="litert")
    assert EmotionEncoder("fast", backend="auto").backend == "keras"  # nothing exported
