"""The emotion-encoder command, run as a user would: in a subprocess, on real files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from emotion_encoder.faces.model_files import cache_dir
from emotion_encoder.litert_classifier import cached_graph
from synthetic import write_face_video


def run_cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "emotion_encoder", *map(str, args)],
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def video(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("cli") / "face clip.mp4"
    write_face_video(path, seconds=2.5)
    return path


def test_predict_json(video, tmp_path):
    out = tmp_path / "result.json"
    proc = run_cli("predict", video, "--json", "-o", out)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert json.loads(out.read_text()) == data
    assert data["video"] == str(video)
    assert data["duration"] == pytest.approx(2.5, abs=0.1)
    assert data["labels"][:7] == ["anger", "disgust", "fear", "happiness", "sadness",
                                  "surprise", "neutral"]
    assert data["video_label"] in data["labels"]
    assert set(data["video_probs"]) == set(data["labels"])
    for clip in data["clips"]:
        assert {"start", "end", "label", "confidence", "probs", "face"} <= set(clip)
        assert clip["face"]["x1"] > clip["face"]["x0"]
    assert "Traceback" not in proc.stderr
    assert data["sampling"]["keyframes"] == "adaptive"  # the commands' default
    fixed = run_cli("predict", video, "--json", "--keyframes", "fixed")
    assert json.loads(fixed.stdout)["sampling"]["keyframes"] == "fixed"
    assert "--keyframes" not in run_cli("timeline", "--help").stdout  # every k-th frame there


def test_no_mirror_runs_each_clip_once_on_either_backend(video, tmp_path):
    def probs(*options):
        proc = run_cli("embed", video, "-o", tmp_path / "e.npz", "--preset", "fast", *options)
        assert proc.returncode == 0, proc.stderr
        with np.load(tmp_path / "e.npz") as data:
            return data["probs"]

    mirrored, lite, keras_side = (probs("--backend", "litert"),
                                  probs("--no-mirror", "--backend", "litert"),
                                  probs("--no-mirror", "--backend", "keras"))
    np.testing.assert_allclose(lite, keras_side, atol=1e-4)  # the same network, once a clip
    assert np.abs(lite - mirrored).max() > 1e-3  # and not the mirror-averaged outputs
    if cached_graph("fast", cache_dir(), quantized=True) is not None:  # fetch-models --litert
        int8, int8_once = probs(), probs("--no-mirror")  # the default: the int8 graph
        assert 1e-4 < np.abs(int8 - mirrored).max() < 0.05  # close to float, not equal
        assert np.abs(int8_once - int8).max() > 1e-3


def test_embed_writes_npz(video, tmp_path):
    out = tmp_path / "emb.npz"
    proc = run_cli("embed", video, "-o", out)
    assert proc.returncode == 0, proc.stderr
    with np.load(out) as data:
        assert data["embeddings"].shape[1] == 256
        assert len(data["starts"]) == len(data["ends"]) == len(data["embeddings"]) >= 1
        assert data["has_face"].all()


def test_example_writes_the_video_or_the_photo_and_both_read_happiness(tmp_path):
    """The README's first command: ``example`` writes the clip (``.mp4``) or the photo
    itself (``.png``); ``predict`` reads the astronaut's smile on both."""
    for name, frames in (("example.mp4", 100), ("example.png", 1)):
        path = tmp_path / name
        proc = run_cli("example", path)
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.strip() == str(path) and path.stat().st_size > 10_000
        proc = run_cli("predict", path, "--json")
        assert proc.returncode == 0, proc.stderr
        data = json.loads(proc.stdout)
        assert data["video_label"] == "happiness", data["video_probs"]
        assert data["n_frames"] == frames
    # a still's table speaks of the image and its face, not of clips and frames
    lines = run_cli("predict", path).stdout.strip().splitlines()
    assert lines[0] == f"image: {path}  (512x512, preset default)"
    assert lines[1].startswith("label: happiness (0.9") and " face " in lines[1]
    probs = dict(item.split() for item in lines[2].split("  "))
    assert list(probs) == data["labels"]
    assert float(probs["happiness"]) == pytest.approx(data["video_probs"]["happiness"], abs=0.006)


def test_info_reports_versions_backend_and_onednn():
    from importlib import metadata

    from emotion_encoder import __version__

    proc = run_cli("info")
    assert proc.returncode == 0, proc.stderr
    info = dict(line.split(None, 1) for line in proc.stdout.strip().splitlines())
    assert info["emotion_encoder"] == __version__
    for package in ("tensorflow", "keras", "numpy", "gradio"):
        assert info[package] == metadata.version(package), package
    assert info["keras_backend"] == "tensorflow"
    int8 = cached_graph("default", cache_dir(), quantized=True) is not None
    assert info["commands_run_on"].startswith("litert-int8 " if int8 else ("litert ", "keras "))
    assert info["onednn"] in ("on (set by emotion_encoder)", "on (set by user)",
                              "off (set by user)")
    assert info["default_preset"] == "default"
    assert "default: trained weights" in info["presets"]
    assert info["litert_graphs"].startswith(("default: exported", "default: not exported"))


@pytest.mark.parametrize("kind", ["missing", "text", "empty", "truncated"])
def test_bad_input_is_one_clear_line(kind, tmp_path, video):
    path = tmp_path / f"{kind}.mp4"
    if kind == "text":
        path.write_text("this is not a video\n" * 100)
    elif kind == "empty":
        path.touch()
    elif kind == "truncated":
        path.write_bytes(video.read_bytes()[:1500])
    proc = run_cli("predict", path, "--json")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    errors = [line for line in proc.stderr.splitlines() if "error:" in line]
    assert len(errors) == 1 and str(path) in errors[0]
    assert "Traceback" not in proc.stderr


def test_no_face_prints_flagged_result_and_exits_3(tmp_path):
    path = tmp_path / "no_face.mp4"
    write_face_video(path, seconds=1.0, face=False)
    proc = run_cli("predict", path, "--json")
    assert proc.returncode == 3
    data = json.loads(proc.stdout)
    assert data["faces_found"] is False and data["video_label"] is None
    assert "no face found" in proc.stderr and "Traceback" not in proc.stderr
